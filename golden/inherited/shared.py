"""Steps and parameters that several flows share: a base flow and a mixin."""

from sfncompile import FlowSpec, Parameter, batch, retry, schedule, step


class Scoring:
    """A mixin: a step without FlowSpec, for any flow that has `rows`."""

    @batch(cpu=2, memory=4096)
    @step
    def score(self):
        self.score = len(self.rows) / 10
        self.next(self.end)


@schedule(daily=True)
class TrainingBase(FlowSpec):
    dataset = Parameter("dataset", default="s3://bucket/train.csv", help="Where the rows are.")

    @retry(times=2)
    @step
    def start(self):
        self.rows = [1, 2, 3]
        self.next(self.score)

    @step
    def end(self):
        pass
