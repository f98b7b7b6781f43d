from metaflow import FlowSpec, current, parallel, step


class ParallelNodesFlow(FlowSpec):
    """A @parallel step of four nodes: current.parallel, self.input and self.index in each
    node, and a join that sees every node."""

    @step
    def start(self):
        self.base = 10
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):
        node = current.parallel
        self.node_index = node.node_index
        self.num_nodes = node.num_nodes
        self.main_ip = node.main_ip
        self.is_control = node.control_task_id == current.task_id
        self.is_parallel = current.is_parallel
        self.item = self.input
        self.position = self.index
        self.value = self.base + node.node_index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.nodes = [i.node_index for i in inputs]
        self.controls = [i.is_control for i in inputs]
        self.in_join = getattr(current, "is_parallel", None)
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)


if __name__ == "__main__":
    ParallelNodesFlow()
