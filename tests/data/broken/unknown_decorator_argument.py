# expect: 5:12: step 'start': unknown argument 'attempts' of @retry
from sfncompile import FlowSpec, step, retry

class F(FlowSpec):
    @retry(attempts=3)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
