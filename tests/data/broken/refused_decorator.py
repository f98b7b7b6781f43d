# expect: 11:6: `parallel`: metaflow.parallel runs a step as a gang of nodes
# (pytorch_parallel is imported and never used: that is fine, as in Metaflow's own test flows)
from metaflow import FlowSpec, step, parallel, pytorch_parallel


class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @parallel
    @step
    def end(self):
        pass
