from metaflow import FlowSpec, step


class SplitThreeFlow(FlowSpec):
    """Three branches, one of them two steps long, closed by one join."""

    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.part = "a"
        self.next(self.join)

    @step
    def b(self):
        self.part = "b"
        self.next(self.b2)

    @step
    def b2(self):
        self.part += "2"
        self.next(self.join)

    @step
    def c(self):
        self.part = "c"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.parts = sorted(i.part for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SplitThreeFlow()
