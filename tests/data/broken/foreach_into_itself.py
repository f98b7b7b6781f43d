# expect: 12:9: step 'a' goes back to 'a', making a cycle; only a switch arm may loop back
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.items = [1, 2]
        self.next(self.a, foreach="items")

    @step
    def end(self):
        pass
