from metaflow import FlowSpec, Parameter, step


class ParamsDefaultsFlow(FlowSpec):
    """Literal defaults, used when the run gives no value."""

    count = Parameter("count", default=3)
    ratio = Parameter("ratio", default=1.5)
    flag = Parameter("flag", default=True)
    label = Parameter("label", default="hello world")
    optional = Parameter("optional", default=None, type=str)

    @step
    def start(self):
        self.values = (self.count, self.ratio, self.flag, self.label, self.optional)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamsDefaultsFlow()
