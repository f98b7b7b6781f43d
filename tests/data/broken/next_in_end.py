# expect: 12:9: step 'end' must not call self.next
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.x = 1
        self.next(self.start)
