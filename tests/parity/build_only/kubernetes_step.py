from metaflow import FlowSpec, kubernetes, retry, step


class KubernetesStepFlow(FlowSpec):
    """@kubernetes: ignored by a local run, as Metaflow does; `build` warns and emits `hello`
    as a plain Batch step; `deploy` refuses it, pointing at @batch."""

    @step
    def start(self):
        self.next(self.hello)

    @kubernetes(cpu=1, memory=500)
    @retry
    @step
    def hello(self):
        self.message = "hi"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KubernetesStepFlow()
