# expect: 4:1: flow 'F' has no 'end' step
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        self.next(self.start)
