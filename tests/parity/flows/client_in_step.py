from metaflow import (
    Flow,
    FlowSpec,
    Run,
    Step,
    Task,
    current,
    default_namespace,
    get_namespace,
    namespace,
    step,
)


class ClientInStepFlow(FlowSpec):
    """The client inside a step reads earlier steps of the run that is going on."""

    @step
    def start(self):
        self.token = "from start"
        self.next(self.read)

    @step
    def read(self):
        run = Run(f"{current.flow_name}/{current.run_id}")
        self.read_back = run["start"].task.data.token
        self.by_step = Step(f"{current.flow_name}/{current.run_id}/start").task["token"].data
        start_task = next(iter(run["start"]))
        self.by_task = Task(start_task.pathspec).data.token
        self.flow_has_run = current.run_id in [r.id for r in Flow(current.flow_name)]
        self.namespace_now = get_namespace()
        namespace(None)
        self.namespace_none = get_namespace()
        self.namespace_default = default_namespace()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClientInStepFlow()
