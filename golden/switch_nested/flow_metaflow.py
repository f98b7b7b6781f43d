"""A switch inside an arm of another switch."""

from metaflow import FlowSpec, Parameter, step


class NestedSwitchFlow(FlowSpec):
    size = Parameter("size", default=7, type=int)

    @step
    def start(self):
        self.kind = "big" if self.size > 5 else "small"
        self.next({"big": self.big, "small": self.small}, condition="kind")

    @step
    def big(self):
        self.parity = "even" if self.size % 2 == 0 else "odd"
        self.next({"even": self.big_even, "odd": self.big_odd}, condition="parity")

    @step
    def big_even(self):
        self.label = "big-even"
        self.next(self.end)

    @step
    def big_odd(self):
        self.label = "big-odd"
        self.next(self.end)

    @step
    def small(self):
        self.label = "small"
        self.next(self.end)

    @step
    def end(self):
        pass
