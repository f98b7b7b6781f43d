# expect: 9:40: IncludeFile 'data': the default must be a file path (a string)
# expect: 10:24: Parameter 'labels': the name 'tags' is reserved for a command-line option
# expect: 11:45: Parameter 'n': separator= needs a non-empty string and a string parameter
# expect: 12:47: Parameter 'j': the default is not valid JSON
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class F(FlowSpec):
    data = IncludeFile("data", default=42)
    labels = Parameter("tags", default="a")
    n = Parameter("n", default=3, separator=",")
    j = Parameter("j", type=JSONType, default="[1,")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
