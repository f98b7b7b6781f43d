"""Splits nested three levels deep, each closed by its own join."""

from metaflow import FlowSpec, step


class NestedSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.a1, self.a2)

    @step
    def a1(self):
        self.next(self.a1x, self.a1y)

    @step
    def a1x(self):
        self.v = 1
        self.next(self.join_a1)

    @step
    def a1y(self):
        self.v = 2
        self.next(self.join_a1)

    @step
    def join_a1(self, inputs):
        self.v = sum(i.v for i in inputs)
        self.next(self.join_a)

    @step
    def a2(self):
        self.v = 4
        self.next(self.join_a)

    @step
    def join_a(self, inputs):
        self.v = sum(i.v for i in inputs)
        self.next(self.join)

    @step
    def b(self):
        self.v = 8
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
