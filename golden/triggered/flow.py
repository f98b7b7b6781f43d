"""Started by events: `data_ready` (its payload's `path` and `rows` as parameters), `refresh`
(no mapping), or a successful run of IngestFlow or of the `feeds` project's prod CleanFlow."""

from sfncompile import FlowSpec, Parameter, current, step, trigger, trigger_on_finish


@trigger(events=[
    {"name": "data_ready", "parameters": {"path": "path", "min_rows": "rows"}},
    {"name": "refresh", "parameters": ["path"]},
])
@trigger_on_finish(flows=["IngestFlow", "feeds.prod.CleanFlow"])
class TriggeredFlow(FlowSpec):
    path = Parameter("path", default="s3://bucket/latest")
    min_rows = Parameter("min_rows", default=0, type=int)

    @step
    def start(self):
        trigger = current.trigger
        self.started_by = trigger.event.name if trigger else "hand"
        self.next(self.end)

    @step
    def end(self):
        print(self.started_by, self.path, self.min_rows)
