from metaflow import FlowSpec, step
from metaflow.metaflow_current import current


class CurrentImportFlow(FlowSpec):
    """current imported from metaflow.metaflow_current is the same object."""

    @step
    def start(self):
        from metaflow import current as top_level_current

        self.same_object = current is top_level_current
        self.step_seen = current.step_name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CurrentImportFlow()
