from metaflow import FlowSpec, catch, step


class MergeErrorsFlow(FlowSpec):
    """merge_artifacts refuses conflicts, and refuses to run outside a join."""

    @catch(var="outside_join", print_exception=False)
    @step
    def start(self):
        self.merge_artifacts([])
        self.next(self.split)

    @step
    def split(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        try:
            self.merge_artifacts(inputs)
            self.conflict_error = None
        except Exception as exc:
            self.conflict_error = type(exc).__name__
        self.outside_join_type = inputs[0].outside_join.type
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MergeErrorsFlow()
