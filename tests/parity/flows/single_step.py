from metaflow import FlowSpec, step


class SingleStepFlow(FlowSpec):
    """One step that is both the start and the end."""

    @step(start=True, end=True)
    def only(self):
        self.result = "done in one"


if __name__ == "__main__":
    SingleStepFlow()
