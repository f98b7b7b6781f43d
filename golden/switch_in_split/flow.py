"""A switch inside one arm of a static split."""

from sfncompile import FlowSpec, step


class SwitchInSplitFlow(FlowSpec):
    @step
    def start(self):
        self.flag = "yes"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next({"yes": self.left_yes, "no": self.left_no}, condition="flag")

    @step
    def left_yes(self):
        self.v = "left-yes"
        self.next(self.join)

    @step
    def left_no(self):
        self.v = "left-no"
        self.next(self.join)

    @step
    def right(self):
        self.v = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
