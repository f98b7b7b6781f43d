from metaflow import FlowSpec, step


class SplitFlow(FlowSpec):
    """A static split; the join reads its inputs by name, by index and by iteration."""

    @step
    def start(self):
        self.base = 10
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
        self.by_name = (inputs.double.value, inputs.square.value)
        self.by_index = sorted([inputs[0].value, inputs[1].value])
        self.by_iteration = sorted(inp.value for inp in inputs)
        self.base = inputs[0].base
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SplitFlow()
