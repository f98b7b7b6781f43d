# expect: 1:1: no flow found
from sfncompile import step

class NotAFlow:
    @step
    def start(self):
        pass
