# expect: 4:32: flow 'F': argument 'timezone' of @schedule is not an IANA time zone
from sfncompile import FlowSpec, step, schedule

@schedule(daily=True, timezone="Mars/Olympus")
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
