# expect: 9:31: step 'start': switch arm 1.0 is given twice
# expect: 13:31: step 'a': switch arm '2' is given twice
# expect: 17:20: step 'b': switch arm keys must be strings or numbers, got None
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next({1: self.a, 1.0: self.b}, condition="x")

    @step
    def a(self):
        self.next({2: self.b, "2": self.end}, condition="x")

    @step
    def b(self):
        self.next({None: self.end, 3: self.end}, condition="x")

    @step
    def end(self):
        pass
