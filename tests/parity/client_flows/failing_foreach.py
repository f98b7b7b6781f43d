import os

from metaflow import FlowSpec, step


class FailingForeachFlow(FlowSpec):
    """Item 1 of the foreach raises while FAIL_ITEM is set; resumed without it, the run ends.
    Run with one worker, item 0 succeeds first and item 2 never starts under either tool."""

    @step
    def start(self):
        self.items = [1, 0, 2]
        print("starting")
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print("working on", self.input)
        self.seen = self.input
        if self.input == 0 and os.environ.get("FAIL_ITEM"):
            raise ValueError("zero is not allowed")
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("values", self.values)


if __name__ == "__main__":
    FailingForeachFlow()
