# expect: 13:5: flow 'F': several steps are marked @step(start=True) (a, b); exactly one may be
# expect: 17:5: flow 'F': step 'finish' is marked @step(end=True) but a step is named 'end' too
# expect: 16:21: step 'finish': @step: unknown argument 'last'
from metaflow import FlowSpec, step


class F(FlowSpec):
    @step(start=True)
    def a(self):
        self.next(self.finish)

    @step(start=True)
    def b(self):
        self.next(self.finish)

    @step(end=True, last=True)
    def finish(self):
        self.next(self.end)

    @step
    def end(self):
        pass
