from metaflow import FlowSpec, catch, step


class CatchWrapperFlow(FlowSpec):
    """@catch stores Metaflow's wrapper (exception, type, stacktrace); None when all went well."""

    @catch(var="failure")
    @step
    def start(self):
        self.before = "set before the failure"
        if self.before:
            raise ValueError("bad value 42")
        self.next(self.fine)

    @catch(var="no_failure")
    @step
    def fine(self):
        self.fine_ran = True
        self.next(self.end)

    @step
    def end(self):
        self.failure_type = self.failure.type
        self.failure_message = self.failure.exception
        self.trace_names_error = "ValueError: bad value 42" in self.failure.stacktrace
        self.has_before = hasattr(self, "before")


if __name__ == "__main__":
    CatchWrapperFlow()
