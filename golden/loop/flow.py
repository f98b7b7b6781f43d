"""A recursive switch: a step loops back to itself until a condition holds."""

from sfncompile import FlowSpec, Parameter, step


class LoopFlow(FlowSpec):
    target = Parameter("target", default=4, type=int)

    @step
    def start(self):
        self.counter = 0
        self.seen = []
        self.next(self.grow)

    @step
    def grow(self):
        self.counter += 1
        self.seen = self.seen + [self.counter]
        self.state = "done" if self.counter >= self.target else "again"
        self.next({"again": self.grow, "done": self.end}, condition="state")

    @step
    def end(self):
        pass
