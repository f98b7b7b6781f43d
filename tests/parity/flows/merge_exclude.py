from metaflow import FlowSpec, step


class MergeExcludeFlow(FlowSpec):
    """merge_artifacts takes what the branches agree on; exclude= leaves the conflicts out."""

    @step
    def start(self):
        self.shared = "same"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.conflict = "a"
        self.only_a = 1
        self.next(self.join)

    @step
    def b(self):
        self.conflict = "b"
        self.only_b = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, exclude=["conflict"])
        self.conflicts = sorted(i.conflict for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.seen = (self.shared, self.only_a, self.only_b, hasattr(self, "conflict"))


if __name__ == "__main__":
    MergeExcludeFlow()
