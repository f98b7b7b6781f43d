# expect: 5:18: step 'start': argument 'times' of @retry nests more than 50 levels deep
from sfncompile import FlowSpec, retry, step

class F(FlowSpec):
    @retry(times=------------------------------------------------------------1)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
