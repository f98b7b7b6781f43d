from metaflow import FlowSpec, step


class FirstFlow(FlowSpec):
    @step
    def start(self):
        self.which = "first"
        self.next(self.end)

    @step
    def end(self):
        pass


class SecondFlow(FlowSpec):
    """Two flows in one file: the __main__ guard says which one runs."""

    @step
    def start(self):
        self.which = "second"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SecondFlow()
