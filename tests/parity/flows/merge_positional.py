from metaflow import FlowSpec, step


class MergePositionalFlow(FlowSpec):
    """merge_artifacts(inputs, [names]): the second positional argument is exclude."""

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.y = "same"
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.y = "same"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, ["x"])
        self.has_x = hasattr(self, "x")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MergePositionalFlow()
