import os

from metaflow import FlowSpec, secrets, step


class SecretsStepFlow(FlowSpec):
    """@secrets: values from AWS Secrets Manager as environment variables at task start."""

    @secrets(sources=["parity/db-credentials"])
    @step
    def start(self):
        self.has_user = "DB_USER" in os.environ
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SecretsStepFlow()
