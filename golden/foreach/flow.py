"""A foreach over a list artifact, closed by a join."""

from sfncompile import FlowSpec, Parameter, foreach_options, step


class ForeachFlow(FlowSpec):
    width = Parameter("width", default=4, type=int)

    @foreach_options(max_concurrency=20)
    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.sq = self.input * self.input
        self.position = self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.positions = [i.position for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
