# expect: 7:5: step 'start': @catch is not supported on a switch step (as in Metaflow)
from sfncompile import FlowSpec, catch, step

class F(FlowSpec):
    @catch
    @step
    def start(self):
        self.next({"a": self.a, "b": self.end}, condition="x")

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass
