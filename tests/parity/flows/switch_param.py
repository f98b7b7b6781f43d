from metaflow import FlowSpec, Parameter, step


class SwitchParamFlow(FlowSpec):
    """The same switch, run with its parameter given on the command line."""

    mode = Parameter("mode", default="fast")
    size = Parameter("size", default=1)

    @step
    def start(self):
        self.route = self.mode
        self.next({"fast": self.quick, "slow": self.thorough}, condition="route")

    @step
    def quick(self):
        self.result = "quick" * self.size
        self.next(self.end)

    @step
    def thorough(self):
        self.result = "thorough" * self.size
        self.next(self.end)

    @step
    def end(self):
        self.final = (self.route, self.result, self.size)


if __name__ == "__main__":
    SwitchParamFlow()
