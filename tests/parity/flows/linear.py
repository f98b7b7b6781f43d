from metaflow import FlowSpec, step


class LinearFlow(FlowSpec):
    """Artifacts flow along linear edges and can be replaced on the way."""

    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.label = "first"
        self.next(self.middle)

    @step
    def middle(self):
        self.total = sum(self.numbers)
        self.label = "second"
        self.next(self.end)

    @step
    def end(self):
        self.summary = (self.label, self.total)


if __name__ == "__main__":
    LinearFlow()
