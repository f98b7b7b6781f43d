from _parity_mixins import BaseFlow
from metaflow import step


class InheritModuleFlow(BaseFlow):
    """start and end come from a module beside the flow, with a mixin and a parameter."""

    @step
    def train(self):
        self.note("train")
        self.area = f"{self.size * self.size} {self.UNIT}2"
        self.next(self.end)


if __name__ == "__main__":
    InheritModuleFlow()
