from metaflow import FlowSpec, step


class MergeIncludeFlow(FlowSpec):
    """merge_artifacts(include=...) takes only the named artifacts."""

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.wanted = "w"
        self.unwanted = "a"
        self.next(self.join)

    @step
    def b(self):
        self.wanted = "w"
        self.unwanted = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, include=["wanted"])
        self.has_unwanted = hasattr(self, "unwanted")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MergeIncludeFlow()
