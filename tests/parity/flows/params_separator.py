from metaflow import FlowSpec, Parameter, step


class ParamsSeparatorFlow(FlowSpec):
    """separator= splits a string parameter into a list; show_default= is accepted."""

    names = Parameter("names", default="ada,grace,alan", separator=",", show_default=True)
    given = Parameter("given", default="x", separator=";", show_default=False)

    @step
    def start(self):
        self.count = len(self.names)
        self.next(self.greet, foreach="names")

    @step
    def greet(self):
        self.message = f"hi {self.input}"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.messages = [i.message for i in inputs]
        self.given_list = inputs[0].given
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamsSeparatorFlow()
