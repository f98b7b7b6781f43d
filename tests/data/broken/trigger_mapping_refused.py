# expect: 6:2: flow 'F': @trigger: event 'ready': payload field 'table.rows' cannot be read by an EventBridge input path
# expect: 7:2: flow 'F': @trigger_on_finish: flow 'a.Upstream': name a flow as 'Flow' or 'project.branch.Flow'
from sfncompile import FlowSpec, Parameter, step, trigger, trigger_on_finish


@trigger(event={"name": "ready", "parameters": {"rows": "table.rows"}})
@trigger_on_finish(flow="a.Upstream")
class F(FlowSpec):
    rows = Parameter("rows", default=0)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
