"""A flow that inherits its schedule, a parameter and steps from a base class and a mixin in a
module beside it, and overrides `start` (the base's @retry goes with the base's step)."""

from metaflow import Parameter, step
from shared import Scoring, TrainingBase


class InheritedFlow(TrainingBase, Scoring):
    limit = Parameter("limit", default=100)

    @step
    def start(self):
        self.rows = list(range(self.limit))
        self.next(self.prepare)

    @step
    def prepare(self):
        self.rows = self.rows[: self.limit // 2]
        self.next(self.score)


if __name__ == "__main__":
    InheritedFlow()
