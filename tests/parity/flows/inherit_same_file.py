from metaflow import FlowSpec, Parameter, step


class BaseSteps(FlowSpec):
    """Steps and a parameter defined on a base class in the same file."""

    scale = Parameter("scale", default=3)

    @step
    def start(self):
        self.value = 2
        self.next(self.compute)

    @step
    def end(self):
        self.final = self.value


class InheritSameFileFlow(BaseSteps):
    """The flow adds one step and overrides nothing."""

    @step
    def compute(self):
        self.value = self.value * self.scale
        self.next(self.end)


if __name__ == "__main__":
    InheritSameFileFlow()
