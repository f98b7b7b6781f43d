"""A foreach inside one branch of a static split."""

from metaflow import FlowSpec, step


class ForeachInSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan, self.single)

    @step
    def fan(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.v = self.input * 100
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.v = sum(i.v for i in inputs)
        self.next(self.join)

    @step
    def single(self):
        self.v = 7
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
