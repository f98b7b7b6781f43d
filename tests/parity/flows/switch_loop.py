from metaflow import FlowSpec, step


class SwitchLoopFlow(FlowSpec):
    """A switch arm that points back at its own step: a loop until a condition holds."""

    @step
    def start(self):
        self.counter = 0
        self.seen = []
        self.next(self.work)

    @step
    def work(self):
        self.counter += 1
        self.seen.append(self.counter)
        self.state = "again" if self.counter < 3 else "done"
        self.next({"again": self.work, "done": self.end}, condition="state")

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchLoopFlow()
