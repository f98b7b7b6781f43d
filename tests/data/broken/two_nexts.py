# expect: 10:13: step 'start' calls self.next more than once
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        if self.x:
            self.next(self.end)
        else:
            self.next(self.end)

    @step
    def end(self):
        pass
