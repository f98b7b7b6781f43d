from metaflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    """A foreach over a list: self.input and self.index in each task, joined in order."""

    @step
    def start(self):
        self.items = ["a", "bb", "ccc"]
        self.next(self.measure, foreach="items")

    @step
    def measure(self):
        self.item = self.input
        self.position = self.index
        self.length = len(self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.lengths = [i.length for i in inputs]
        self.positions = [i.position for i in inputs]
        self.items = inputs[0].items
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachFlow()
