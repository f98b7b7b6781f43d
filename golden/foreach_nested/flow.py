"""Foreach nested three levels deep."""

from sfncompile import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.level1, foreach="xs")

    @step
    def level1(self):
        self.x = self.input
        self.ys = [10, 20]
        self.next(self.level2, foreach="ys")

    @step
    def level2(self):
        self.y = self.input
        self.zs = [100, 200, 300]
        self.next(self.level3, foreach="zs")

    @step
    def level3(self):
        self.value = self.x + self.y + self.input
        self.next(self.join3)

    @step
    def join3(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.join2)

    @step
    def join2(self, inputs):
        self.values = [v for i in inputs for v in i.values]
        self.next(self.join1)

    @step
    def join1(self, inputs):
        self.values = [v for i in inputs for v in i.values]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)
