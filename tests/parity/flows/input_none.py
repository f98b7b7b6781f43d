from metaflow import FlowSpec, step


class InputNoneFlow(FlowSpec):
    """self.input and self.index are None outside a foreach."""

    @step
    def start(self):
        self.start_input = self.input
        self.start_index = self.index
        self.next(self.middle)

    @step
    def middle(self):
        self.middle_input = self.input
        self.next(self.end)

    @step
    def end(self):
        self.end_index = self.index


if __name__ == "__main__":
    InputNoneFlow()
