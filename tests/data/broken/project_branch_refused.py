# expect: 4:2: flow 'F': @project: branch 'feat/x' must be 1-128 lowercase letters, digits and _
from sfncompile import FlowSpec, project, step

@project(name="demo", branch="feat/x")
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
