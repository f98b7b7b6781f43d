"""A switch: an artifact's value picks the next step at run time."""

from metaflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.choice = self.mode
        self.next({"fast": self.quick, "slow": self.thorough}, condition="choice")

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
        pass
