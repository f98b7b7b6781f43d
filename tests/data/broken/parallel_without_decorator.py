# expect: 8:9: step 'start' is called as a parallel step with self.next(num_parallel=...) but its target 'train' does not have a @parallel decorator
from metaflow import FlowSpec, step


class F(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
