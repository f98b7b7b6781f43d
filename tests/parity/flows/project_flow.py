from metaflow import FlowSpec, current, project, step


@project(name="parity_demo")
class ProjectFlow(FlowSpec):
    """@project names: the user's branch on a local run, not production."""

    @step
    def start(self):
        self.project_name = current.project_name
        self.branch_name = current.branch_name
        self.is_production = current.is_production
        self.project_flow_name = current.project_flow_name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProjectFlow()
