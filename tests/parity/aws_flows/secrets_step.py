import os

from metaflow import FlowSpec, secrets, step


class SecretsStepFlow(FlowSpec):
    """@secrets: values from AWS Secrets Manager as environment variables at task start."""

    @secrets(sources=["parity/db-credentials"])
    @step
    def start(self):
        self.user = os.environ.get("DB_USER")
        self.port = os.environ.get("DB_PORT")
        self.next(self.end)

    @step
    def end(self):
        self.user_outside_the_step = os.environ.get("DB_USER")


if __name__ == "__main__":
    SecretsStepFlow()
