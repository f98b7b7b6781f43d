"""A foreach inside a switch arm (the other arm is a plain step)."""

from sfncompile import FlowSpec, Parameter, step


class ForeachInSwitchFlow(FlowSpec):
    many = Parameter("many", default=True, type=bool)

    @step
    def start(self):
        self.branch = "many" if self.many else "one"
        self.next({"many": self.fan, "one": self.single}, condition="branch")

    @step
    def fan(self):
        self.items = [3, 4]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.v = self.input * 2
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.result = [i.v for i in inputs]
        self.next(self.end)

    @step
    def single(self):
        self.result = [0]
        self.next(self.end)

    @step
    def end(self):
        pass
