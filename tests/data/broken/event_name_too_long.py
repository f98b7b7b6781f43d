# expect: 4:2: flow 'F': @trigger: event name 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee'... has 130 characters; EventBridge takes at most 128
from sfncompile import FlowSpec, step, trigger

@trigger(event="eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
