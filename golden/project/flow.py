"""A flow of the `forecast` project: deployed per branch (here fixed to `nightly`, so
test.nightly, or prod.nightly with --production), started when the same branch's
PrepareFlow succeeds."""

from sfncompile import FlowSpec, current, project, step, trigger_on_finish


@project(name="forecast", branch="nightly")
@trigger_on_finish(flow="PrepareFlow")
class ForecastFlow(FlowSpec):
    @step
    def start(self):
        self.branch = current.branch_name
        self.next(self.train)

    @step
    def train(self):
        self.model = f"model-{self.branch}"
        self.next(self.end)

    @step
    def end(self):
        print(current.project_flow_name, self.model)
