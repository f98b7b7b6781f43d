from metaflow import FlowSpec, step


class StepStartEndFlow(FlowSpec):
    """Entry and exit steps named by @step(start=True) and @step(end=True)."""

    @step(start=True)
    def begin(self):
        self.trail = ["begin"]
        self.next(self.work)

    @step
    def work(self):
        self.trail = [*self.trail, "work"]
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.trail = [*self.trail, "finish"]


if __name__ == "__main__":
    StepStartEndFlow()
