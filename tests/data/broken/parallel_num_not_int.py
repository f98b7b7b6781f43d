# expect: 11:44: step 'start': num_parallel= must be an int literal (the number of nodes), not `self.width`
# expect: 16:43: step 'train': num_parallel=0: a @parallel step needs at least 1 node
# expect: 21:9: step 'join': only one destination is allowed when num_parallel is used in self.next (as in Metaflow)
from metaflow import FlowSpec, parallel, step


class F(FlowSpec):
    @step
    def start(self):
        self.width = 4
        self.next(self.train, num_parallel=self.width)

    @parallel
    @step
    def train(self):
        self.next(self.join, num_parallel=0)

    @parallel
    @step
    def join(self, inputs):
        self.next(self.end, self.start, num_parallel=2)

    @step
    def end(self):
        pass
