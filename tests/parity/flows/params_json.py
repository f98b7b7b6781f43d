from metaflow import FlowSpec, JSONType, Parameter, step


class ParamsJsonFlow(FlowSpec):
    """JSONType defaults and values are parsed as JSON; a JSON list can drive a foreach."""

    settings = Parameter("settings", type=JSONType, default='{"depth": 2, "tags": ["a", "b"]}')
    sizes = Parameter("sizes", type=JSONType, default="[1, 2, 3]")
    given = Parameter("given", type=JSONType, default="null")

    @step
    def start(self):
        self.depth = self.settings["depth"]
        self.next(self.each, foreach="sizes")

    @step
    def each(self):
        self.doubled = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.doubled = [i.doubled for i in inputs]
        self.merge_artifacts(inputs, exclude=["doubled"])
        self.next(self.end)

    @step
    def end(self):
        self.given_type = type(self.given).__name__


if __name__ == "__main__":
    ParamsJsonFlow()
