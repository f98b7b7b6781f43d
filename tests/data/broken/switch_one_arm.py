# expect: 7:19: step 'start': a switch needs at least two arms
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.end}, condition="x")

    @step
    def end(self):
        pass
