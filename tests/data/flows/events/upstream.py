"""A @project flow whose successful runs start Downstream (tests/test_events_e2e.py)."""

from sfncompile import FlowSpec, current, project, step


@project(name="demo")
class Upstream(FlowSpec):
    @step
    def start(self):
        self.branch = current.branch_name
        self.next(self.end)

    @step
    def end(self):
        pass
