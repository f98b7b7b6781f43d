# expect: 9:9: step 'start': self.next goes to unknown step 'nowhere'
# expect: 6:18: step 'start': argument 'times' of @retry must be an int, got float
from sfncompile import FlowSpec, step, retry

class F(FlowSpec):
    @retry(times=1.5)
    @step
    def start(self):
        self.next(self.nowhere)

    @step
    def end(self):
        pass
