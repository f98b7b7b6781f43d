# expect: 5:1: class 'F' inherits from itself: F -> B -> F
from metaflow import FlowSpec, step


class F(FlowSpec, B):
    @step
    def start(self):
        self.next(self.end)


class B(F):
    @step
    def end(self):
        pass
