"""A foreach run as a Distributed Map, for widths beyond an Inline Map's history budget."""

from metaflow import FlowSpec, Parameter, step

from sfncompile import foreach_options


class DistributedForeachFlow(FlowSpec):
    width = Parameter("width", default=5, type=int)

    @foreach_options(mode="distributed", max_concurrency=1000)
    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input + 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
