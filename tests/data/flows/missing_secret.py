"""A step whose secret does not exist (tests/test_services.py)."""

from sfncompile import FlowSpec, secrets, step


class MissingSecretFlow(FlowSpec):
    @secrets(sources=["sfn-test-missing"])
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
