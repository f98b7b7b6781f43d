# expect: 6:21: syntax error
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self) x:
        self.next(self.end)
