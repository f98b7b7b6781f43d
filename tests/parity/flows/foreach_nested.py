from metaflow import FlowSpec, step


class ForeachNestedFlow(FlowSpec):
    """A foreach inside a foreach; foreach_stack() gives the indices of both levels."""

    @step
    def start(self):
        self.rows = [1, 2]
        self.next(self.row, foreach="rows")

    @step
    def row(self):
        self.r = self.input
        self.cols = [10, 20]
        self.next(self.cell, foreach="cols")

    @step
    def cell(self):
        self.value = self.r * self.input
        self.stack = [(index, total) for index, total, _ in self.foreach_stack()]
        self.next(self.join_cols)

    @step
    def join_cols(self, inputs):
        self.row_values = [i.value for i in inputs]
        self.stacks = [i.stack for i in inputs]
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        self.values = [i.row_values for i in inputs]
        self.stacks = [i.stacks for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(sum(v) for v in self.values)


if __name__ == "__main__":
    ForeachNestedFlow()
