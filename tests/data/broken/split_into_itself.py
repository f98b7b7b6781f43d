# expect: 11:9: step 'a' goes back to 'a', making a cycle; only a switch arm may loop back
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.a, self.b)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
