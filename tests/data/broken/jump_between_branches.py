# expect: 11:9: step 'a' goes to 'b', in the branch of the split 'start' that starts at 'b'; the branches of a split meet only at their join 'join'
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
