"""Started by a successful Upstream run of its own project branch, or by the event
`data_ready`, whose payload field `value` becomes the parameter `alpha`."""

from sfncompile import FlowSpec, Parameter, current, project, step, trigger, trigger_on_finish


@project(name="demo")
@trigger(event={"name": "data_ready", "parameters": {"alpha": "value"}})
@trigger_on_finish(flow="Upstream")
class Downstream(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)

    @step
    def start(self):
        t = current.trigger
        self.event_name = t.event.name
        self.payload = t.event.payload
        upstream = t.run
        self.upstream = upstream.pathspec if upstream else None
        self.upstream_branch = upstream.data.branch if upstream else None
        self.branch = current.branch_name
        self.project_flow_name = current.project_flow_name
        self.next(self.end)

    @step
    def end(self):
        pass
