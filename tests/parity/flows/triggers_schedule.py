from metaflow import FlowSpec, current, schedule, step, trigger


@schedule(cron="0 6 * * ? *", timezone="Europe/Paris")
@trigger(event="data_ready")
class TriggersScheduleFlow(FlowSpec):
    """@schedule and @trigger change nothing in a local run; there is no current.trigger."""

    @step
    def start(self):
        self.trigger = getattr(current, "trigger", None)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TriggersScheduleFlow()
