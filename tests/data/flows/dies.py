import os

from sfncompile import FlowSpec, catch, step


class DiesFlow(FlowSpec):
    @step
    def start(self):
        self.before = 1
        self.next(self.crash)

    @catch(var="death")
    @step
    def crash(self):
        os._exit(3)  # the process dies: the step's own code cannot catch this
        self.next(self.end)

    @step
    def end(self):
        self.kind = type(self.death).__name__
        self.type = self.death.type
        self.message = self.death.exception
