# expect: 9:40: Parameter 'a': help must be a string, not 3
# expect: 10:44: Parameter 'b': required must be True or False, not 'yes'
# expect: 11:32: Parameter 'c': the default is not JSON: Object of type set is not JSON serializable
# expect: 12:32: Parameter 'd': the default is not JSON: the keys of a JSON object must be strings
# expect: 13:32: Parameter 'e': the default is not a finite number
from sfncompile import FlowSpec, JSONType, Parameter, step

class F(FlowSpec):
    a = Parameter("a", default=1, help=3)
    b = Parameter("b", default=1, required="yes")
    c = Parameter("c", default={1, 2}, type=JSONType)
    d = Parameter("d", default={1: 2}, type=JSONType)
    e = Parameter("e", default=1e999)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
