from metaflow import FlowSpec, step


class PrivateAttrsFlow(FlowSpec):
    """Attributes starting with one underscore are artifacts too and reach later steps."""

    @step
    def start(self):
        self._hidden = {"secret": 1}
        self._counter = 1
        self.__mangled = "double underscore"
        self.next(self.middle)

    @step
    def middle(self):
        self._counter += 1
        self.seen_hidden = self._hidden
        self.next(self.end)

    @step
    def end(self):
        self.final_counter = self._counter


if __name__ == "__main__":
    PrivateAttrsFlow()
