"""A static split inside each iteration of a foreach."""

from metaflow import FlowSpec, step


class SplitInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [2, 3]
        self.next(self.item, foreach="items")

    @step
    def item(self):
        self.n = self.input
        self.next(self.plus, self.times)

    @step
    def plus(self):
        self.v = self.n + self.n
        self.next(self.item_join)

    @step
    def times(self):
        self.v = self.n * self.n
        self.next(self.item_join)

    @step
    def item_join(self, inputs):
        self.v = sum(i.v for i in inputs)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.v for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
