"""Three steps in a line; artifacts flow along the edges."""

from sfncompile import FlowSpec, Parameter, step


class LinearFlow(FlowSpec):
    count = Parameter("count", default=3, type=int, help="How many numbers to sum.")

    @step
    def start(self):
        self.numbers = list(range(self.count))
        self.next(self.add)

    @step
    def add(self):
        self.total = sum(self.numbers)
        self.next(self.end)

    @step
    def end(self):
        self.result = self.total * 10
