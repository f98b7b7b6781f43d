from metaflow import FlowSpec, step


class SwitchNumbersFlow(FlowSpec):
    """Switch keys may be numbers; the condition artifact holds the number."""

    @step
    def start(self):
        self.level = 2
        self.next({1: self.low, 2: self.high}, condition="level")

    @step
    def low(self):
        self.which = "low"
        self.next(self.end)

    @step
    def high(self):
        self.which = "high"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchNumbersFlow()
