"""A static split into two branches, closed by a join."""

from sfncompile import FlowSpec, step


class SplitFlow(FlowSpec):
    @step
    def start(self):
        self.base = 5
        self.next(self.double, self.square)

    @step
    def double(self):
        self.value = self.base * 2
        self.next(self.join)

    @step
    def square(self):
        self.value = self.base**2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.result = sorted(i.value for i in inputs)
        self.from_double = inputs.double.value
        self.merge_artifacts(inputs, exclude=["value"])
        self.next(self.end)

    @step
    def end(self):
        pass
