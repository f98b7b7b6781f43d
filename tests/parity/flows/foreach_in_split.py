from metaflow import FlowSpec, step


class ForeachInSplitFlow(FlowSpec):
    """One branch of a split fans out with a foreach; the other is a plain step."""

    @step
    def start(self):
        self.next(self.fan, self.plain)

    @step
    def fan(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 100
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.join)

    @step
    def plain(self):
        self.outs = [7]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all_outs = sorted(o for i in inputs for o in i.outs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachInSplitFlow()
