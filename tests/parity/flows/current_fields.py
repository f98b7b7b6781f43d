from metaflow import FlowSpec, Parameter, current, step


class CurrentFieldsFlow(FlowSpec):
    """current describes the run; fields that name the run itself are checked, not stored."""

    alpha = Parameter("alpha", default=3)
    beta = Parameter("beta", default="b")

    @step
    def start(self):
        self.flow_name = current.flow_name
        self.step_name = current.step_name
        self.retry_count = current.retry_count
        self.origin_run_id = current.origin_run_id
        self.is_running_flow = current.is_running_flow
        self.username = current.username
        self.namespace = current.namespace
        self.parameter_names = sorted(current.parameter_names)
        self.user_tags = sorted(t for t in current.tags if ":" not in t)
        self.run_id_is_text = isinstance(current.run_id, str) and bool(current.run_id)
        self.task_id_is_text = isinstance(current.task_id, str) and bool(current.task_id)
        self.pathspec_parts = current.pathspec.split("/")[0::2]
        self.next(self.end)

    @step
    def end(self):
        self.end_step_name = current.step_name


if __name__ == "__main__":
    CurrentFieldsFlow()
