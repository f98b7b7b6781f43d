# expect: 6:6: step 'start': unknown decorator @kubernetes
from sfncompile import FlowSpec, step, kubernetes

class F(FlowSpec):
    @step
    @kubernetes(cpu=2)
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
