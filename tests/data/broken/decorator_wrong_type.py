# expect: 5:23: step 'start': argument 'memory' of @resources must be an int, got str
from sfncompile import FlowSpec, step, resources

class F(FlowSpec):
    @resources(memory="8G")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
