"""A @parallel step: one multi-node AWS Batch job of four nodes, then a join of every node."""

from sfncompile import FlowSpec, batch, current, parallel, step


class ParallelFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.train, num_parallel=4)

    @parallel
    @batch(cpu=1, memory=2048)
    @step
    def train(self):
        node = current.parallel
        self.node_index = node.node_index
        self.num_nodes = node.num_nodes
        self.main_ip = node.main_ip
        self.is_control = node.control_task_id == current.task_id
        self.is_parallel = current.is_parallel
        self.value = self.base + node.node_index
        self.position = self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.nodes = [i.node_index for i in inputs]
        self.sizes = sorted({i.num_nodes for i in inputs})
        self.controls = [i.is_control for i in inputs]
        self.positions = [i.position for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
