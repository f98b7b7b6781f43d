from sfncompile import FlowSpec, step


class FailingFlow(FlowSpec):
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
