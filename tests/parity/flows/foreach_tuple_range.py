from metaflow import FlowSpec, step


class ForeachTuplesFlow(FlowSpec):
    """A foreach over a tuple of dicts; then one over a range."""

    @step
    def start(self):
        self.configs = ({"lr": 0.1}, {"lr": 0.01})
        self.next(self.train, foreach="configs")

    @step
    def train(self):
        self.config = self.input
        self.score = self.config["lr"] * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = {i.config["lr"]: i.score for i in inputs}
        self.next(self.fan)

    @step
    def fan(self):
        self.sizes = range(2)
        self.next(self.size, foreach="sizes")

    @step
    def size(self):
        self.square = self.input**2
        self.next(self.join_sizes)

    @step
    def join_sizes(self, inputs):
        self.squares = [i.square for i in inputs]
        self.results = inputs[0].results
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachTuplesFlow()
