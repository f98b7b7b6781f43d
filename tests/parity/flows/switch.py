from metaflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    """A switch picks one arm by the value of an artifact; the arms meet again after."""

    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.route = self.mode
        self.next({"fast": self.quick, "slow": self.thorough}, condition="route")

    @step
    def quick(self):
        self.result = "quick"
        self.next(self.end)

    @step
    def thorough(self):
        self.result = "thorough"
        self.next(self.end)

    @step
    def end(self):
        self.final = (self.route, self.result)


if __name__ == "__main__":
    SwitchFlow()
