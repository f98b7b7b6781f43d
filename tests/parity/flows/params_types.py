from metaflow import FlowSpec, Parameter, step


class ParamsTypesFlow(FlowSpec):
    """Parameter types follow the default's type or type=; values given on the command line."""

    count = Parameter("count", default=2, help="an int")
    ratio = Parameter("ratio", default=0.5)
    flag = Parameter("flag", default=False, type=bool)
    label = Parameter("label", default="x", type=str)
    number = Parameter("number", type=int, required=True)

    @step
    def start(self):
        self.seen = {"count": self.count, "ratio": self.ratio, "flag": self.flag,
                     "label": self.label, "number": self.number}
        self.types = sorted({k: type(v).__name__ for k, v in self.seen.items()}.items())
        self.next(self.end)

    @step
    def end(self):
        self.product = self.count * self.ratio * self.number


if __name__ == "__main__":
    ParamsTypesFlow()
