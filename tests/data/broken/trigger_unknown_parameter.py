# expect: 4:2: flow 'F': @trigger: event 'ready' maps the payload to 'rows', which is not a Parameter of the flow
from sfncompile import FlowSpec, step, trigger

@trigger(event={"name": "ready", "parameters": ["rows"]})
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
