import os

from metaflow import FlowSpec, Parameter, step

HOUR = 60 * 60


def default_region(context):
    return "eu-" + "west-1"


class ParamsRuntimeDefaultsFlow(FlowSpec):
    """Defaults that are expressions: evaluated once when the run starts."""

    from_env = Parameter("from_env", default=os.environ.get("PARITY_UNSET_VARIABLE", "fallback"))
    seconds = Parameter("seconds", default=60 * 60)
    hours = Parameter("hours", default=HOUR // 1800)
    region = Parameter("region", default=default_region)
    from_context = Parameter("from_context", default=lambda ctx: ctx.parameter_name.upper())
    joined = Parameter("joined", default="-".join(["a", "b"]))

    @step
    def start(self):
        self.seen = [self.from_env, self.seconds, self.hours, self.region, self.from_context,
                     self.joined]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamsRuntimeDefaultsFlow()
