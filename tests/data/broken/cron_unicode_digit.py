# expect: 4:2: flow 'F': @schedule: cron(0 ² * * ? *): hours field '²': '²' is not a value: expected 0-23
from sfncompile import FlowSpec, step, schedule

@schedule(cron="0 ² * * ? *")
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
