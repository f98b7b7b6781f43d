"""Metaflow's other decorators: cards, secrets, packages, an exit hook, @batch's container
settings and a decorator of the flow's own; only @batch changes the ASL (its own job
definition), the rest is recorded for the runtime and for deploy."""

import functools

from sfncompile import (
    FlowSpec,
    batch,
    card,
    exit_hook,
    pypi,
    pypi_base,
    resources,
    secrets,
    step,
    user_step_decorator,
)


def notify(run=None):
    print("finished", run)


def logged(func):
    @functools.wraps(func)
    def wrapper(self, *args):
        print("running", func.__name__)
        return func(self, *args)

    return wrapper


@user_step_decorator
def timed(step_name, flow, inputs, attributes):
    yield
    flow.timed_step = step_name


@exit_hook(on_success=[notify], on_error=["notify"])
@pypi_base(packages={"boto3": ""}, python="3.11")
class MetaflowDecoratedFlow(FlowSpec):
    @card(type="blank", id="summary", options={"title": "Start"}, timeout=30)
    @card
    @secrets(sources=["db-credentials", {"type": "aws-secrets-manager", "id": "api-key"}])
    @logged
    @step
    def start(self):
        self.rows = 3
        self.next(self.train)

    @batch(cpu=4, memory="16384", use_tmpfs=True, tmpfs_size=4096, max_swap=2048,
           swappiness=60, inferentia=1, efa=1, host_volumes=["/data:/mnt/data"],
           efs_volumes="fs-12345678", aws_batch_tags={"team": "ml"}, log_driver="awslogs",
           log_options=["awslogs-group:flows"], privileged=False, ephemeral_storage=30)
    @resources(disk=20480)
    @pypi(packages={"numpy": "1.26.4"})
    @timed
    @step
    def train(self):
        self.model = {"rows": self.rows}
        self.next(self.end)

    @step
    def end(self):
        pass
