# expect: 4:2: flow 'F': @schedule: cron(0 25 * * ? *): hours field '25': 25 is out of range 0-23
from sfncompile import FlowSpec, step, schedule

@schedule(cron="0 25 * * ? *")
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
