# expect: 7:5: step 'start': @catch is not supported on a foreach step (as in Metaflow): after a failure it has nothing to decide on; put @catch on the steps it leads to
from metaflow import FlowSpec, catch, step

class F(FlowSpec):
    @catch(var="err")
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @catch(var="err")
    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
