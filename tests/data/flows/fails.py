from sfncompile import FlowSpec, Parameter, step


class FailingFlow(FlowSpec):
    size = Parameter("size", default=3)

    @step
    def start(self):
        self.next(self.boom)

    @step
    def boom(self):
        raise ValueError("the step failed on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass
