# expect: 10:5: step 'middle' takes `inputs` but joins no split or foreach
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
