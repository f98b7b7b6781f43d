# expect: 4:1: flow 'F' has no 'start' step
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass
