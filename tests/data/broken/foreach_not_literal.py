# expect: 8:38: step 'start': foreach= must be a string literal
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        name = "items"
        self.next(self.each, foreach=name)

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
