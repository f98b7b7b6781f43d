"""A split inside one switch arm and a foreach inside the other."""

from metaflow import FlowSpec, Parameter, step


class SwitchArmsFlow(FlowSpec):
    route = Parameter("route", default="fanout")

    @step
    def start(self):
        self.route_ = self.route
        self.next({"split": self.split, "fanout": self.fanout}, condition="route_")

    @step
    def split(self):
        self.next(self.s1, self.s2)

    @step
    def s1(self):
        self.v = 1
        self.next(self.split_join)

    @step
    def s2(self):
        self.v = 2
        self.next(self.split_join)

    @step
    def split_join(self, inputs):
        self.result = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def fanout(self):
        self.items = ["a", "b", "c"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.v = self.input.upper()
        self.next(self.fanout_join)

    @step
    def fanout_join(self, inputs):
        self.result = "".join(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
