# expect: 5:2: flow 'Loop': @trigger_on_finish names the flow itself, so each run would start another without end; trigger on another flow, or on another branch ('project.branch.Flow')
from sfncompile import FlowSpec, project, step, trigger_on_finish

@project(name="team")
@trigger_on_finish(flows=["Upstream", {"name": "Loop", "project": "team"}])
class Loop(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
