# expect: 11:6: `pytorch_parallel`: metaflow.pytorch_parallel runs a step as a gang of PyTorch nodes
# (parallel is imported and never used: that is fine, as in Metaflow's own test flows)
from metaflow import FlowSpec, step, parallel, pytorch_parallel


class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @pytorch_parallel
    @step
    def end(self):
        pass
