# expect: 21:6: step 'join' has a @parallel decorator, but is not called with self.next(num_parallel=...) from 'after'
# expect: 15:9: a @parallel step must be followed by a join step: step 'train' is not followed by one
from metaflow import FlowSpec, parallel, step


class F(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):
        self.value = 1
        self.next(self.after)

    @step
    def after(self):
        self.next(self.join)

    @parallel
    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
