"""A loop inside each iteration of a foreach."""

from sfncompile import FlowSpec, step


class LoopInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.limits = [1, 3, 2]
        self.next(self.prepare, foreach="limits")

    @step
    def prepare(self):
        self.limit = self.input
        self.steps = 0
        self.next(self.climb)

    @step
    def climb(self):
        self.steps += 1
        self.state = "done" if self.steps >= self.limit else "again"
        self.next({"again": self.climb, "done": self.join}, condition="state")

    @step
    def join(self, inputs):
        self.steps_per_item = [i.steps for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
