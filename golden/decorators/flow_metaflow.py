"""Every step decorator, and a schedule: they show up in the ASL as Task fields."""

from metaflow import (
    FlowSpec,
    JSONType,
    Parameter,
    batch,
    catch,
    environment,
    resources,
    retry,
    schedule,
    step,
    timeout,
)

MEMORY = 16384


@schedule(cron="0 6 * * ? *")
class DecoratedFlow(FlowSpec):
    config = Parameter("config", default={"lr": 0.1}, type=JSONType, help="Model settings.")
    label = Parameter("label", required=True, help="A label for this run.")

    @resources(cpu=2, memory=MEMORY)
    @environment(vars={"MODE": "train", "LEVEL": 3})
    @step
    def start(self):
        self.lr = self.config["lr"]
        self.next(self.train)

    @batch(cpu=8, gpu=1, memory=65536, image="python:3.12-slim", queue="gpu-queue")
    @retry(times=2, minutes_between_retries=1)
    @timeout(hours=1, minutes=30)
    @step
    def train(self):
        self.model = {"lr": self.lr}
        self.next(self.evaluate)

    @catch(var="failure", print_exception=False)
    @retry
    @step
    def evaluate(self):
        self.score = 0.9
        self.next(self.end)

    @step
    def end(self):
        pass
