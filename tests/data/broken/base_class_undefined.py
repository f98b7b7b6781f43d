# expect: 5:19: class 'F': cannot read its base class: 'Mixin' is not defined
from metaflow import FlowSpec, step


class F(FlowSpec, Mixin):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
