# expect: 7:16: step 'start': argument 'cpu' of @batch must be a literal value, not `os.cpu_count()`
import os
from sfncompile import FlowSpec, step, batch

class F(FlowSpec):
    @step
    @batch(cpu=os.cpu_count())
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
