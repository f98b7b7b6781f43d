# expect: 7:9: step 'start': self.next goes to unknown step 'middle'
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def end(self):
        pass
