from metaflow import FlowSpec, step


class ClassConstantsFlow(FlowSpec):
    """Class-level values are artifacts of every task, like attributes set in a step."""

    THRESHOLD = 0.5
    LABELS = ("low", "high")
    config = {"depth": 3}

    @step
    def start(self):
        self.threshold_seen = self.THRESHOLD
        self.next(self.end)

    @step
    def end(self):
        self.label = self.LABELS[1] if self.threshold_seen >= 0.5 else self.LABELS[0]


if __name__ == "__main__":
    ClassConstantsFlow()
