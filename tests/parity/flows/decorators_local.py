import os

from metaflow import FlowSpec, environment, resources, step, timeout


class DecoratorsLocalFlow(FlowSpec):
    """@resources (every argument), @timeout and @environment on a local run."""

    @resources(cpu=2, memory=2048, disk=10240, gpu=0, shared_memory=64)
    @timeout(minutes=5)
    @environment(vars={"PARITY_GREETING": "hello", "PARITY_EMPTY": ""})
    @step
    def start(self):
        self.greeting = os.environ["PARITY_GREETING"]
        self.empty = os.environ["PARITY_EMPTY"]
        self.next(self.end)

    @timeout(seconds=30, minutes=1, hours=0)
    @step
    def end(self):
        self.inherited_env = os.environ.get("PARITY_GREETING")


if __name__ == "__main__":
    DecoratorsLocalFlow()
