from metaflow import FlowSpec, step


class SplitInForeachFlow(FlowSpec):
    """Each foreach task splits in two; inputs of the inner join keep the foreach input."""

    @step
    def start(self):
        self.items = [3, 4]
        self.next(self.item, foreach="items")

    @step
    def item(self):
        self.x = self.input
        self.next(self.left, self.right)

    @step
    def left(self):
        self.v = self.x + 1
        self.next(self.inner)

    @step
    def right(self):
        self.v = self.x * 2
        self.next(self.inner)

    @step
    def inner(self, inputs):
        self.merge_artifacts(inputs, exclude=["v"])
        self.pair = sorted(i.v for i in inputs)
        self.next(self.outer)

    @step
    def outer(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.xs = [i.x for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SplitInForeachFlow()
