from metaflow import FlowSpec, catch, current, step


class MergeErrorsFlow(FlowSpec):
    """merge_artifacts refuses conflicts, and refuses to run outside a join. Task ids are
    unique within a run, so two branches that store their own id conflict (Metaflow's
    MergeArtifactsTest)."""

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
        self.who = current.task_id
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.who = current.task_id
        self.next(self.join)

    @step
    def join(self, inputs):
        try:
            self.merge_artifacts(inputs)
            self.conflict_error = None
        except Exception as exc:
            self.conflict_error = type(exc).__name__
        try:
            self.merge_artifacts(inputs, exclude=["x"])
            self.id_conflict = None
        except Exception as exc:
            self.id_conflict = type(exc).__name__
        self.outside_join_type = inputs[0].outside_join.type
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MergeErrorsFlow()
