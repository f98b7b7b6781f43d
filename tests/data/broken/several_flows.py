# expect: 13:1: several flows in this file (A, B): choose one with --flow NAME
from sfncompile import FlowSpec, step

class A(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

class B(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
