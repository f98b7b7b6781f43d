# expect: 3:38: `from metaflow import parallel`: @parallel runs a step as a gang of nodes
# expect: 3:48: `from metaflow import pytorch_parallel`: @pytorch_parallel runs a step as a gang of PyTorch nodes
from metaflow import FlowSpec, step, parallel, pytorch_parallel


class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @parallel
    @step
    def end(self):
        pass
