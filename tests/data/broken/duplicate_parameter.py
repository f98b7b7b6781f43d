# expect: 6:5: duplicate Parameter 'alpha' (first defined at line 5)
from sfncompile import FlowSpec, step, Parameter

class F(FlowSpec):
    alpha = Parameter("alpha", default=1)
    beta = Parameter("alpha", default=2)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
