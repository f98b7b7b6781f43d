from sfncompile import FlowSpec, Parameter, schedule, step


@schedule(cron="0 6 * * ? *")
class ScheduledFlow(FlowSpec):
    config = Parameter("config", default={"lr": 0.1}, help="Model settings.")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
