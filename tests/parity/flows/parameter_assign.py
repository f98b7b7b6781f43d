from metaflow import FlowSpec, Parameter, catch, step


class ParameterAssignFlow(FlowSpec):
    """A Parameter cannot be assigned in a step; the step fails (caught here)."""

    alpha = Parameter("alpha", default=1)

    @catch(var="assign_error", print_exception=False)
    @step
    def start(self):
        self.alpha = 2
        self.next(self.end)

    @step
    def end(self):
        self.alpha_after = self.alpha
        self.error_type = self.assign_error.type


if __name__ == "__main__":
    ParameterAssignFlow()
