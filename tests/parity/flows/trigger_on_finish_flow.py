from metaflow import FlowSpec, step, trigger_on_finish


@trigger_on_finish(flows=["LinearFlow", "SplitFlow"])
class TriggerOnFinishFlow(FlowSpec):
    """@trigger_on_finish is for deployments; a local run just runs."""

    @step
    def start(self):
        self.ran = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TriggerOnFinishFlow()
