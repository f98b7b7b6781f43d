# expect: 4:36: `from metaflow import Frobnicate`: sfncompile does not provide metaflow.Frobnicate
# expect: 11:9: `from metaflow.plugins.foo import ...`: sfncompile does not provide the module metaflow.plugins.foo
# expect: 16:18: `metaflow.not_a_thing`: sfncompile does not provide metaflow.not_a_thing
from metaflow import FlowSpec, S3, Frobnicate, step
import metaflow


class F(FlowSpec):
    @step
    def start(self):
        from metaflow.plugins.foo import bar
        self.next(self.end)

    @step
    def end(self):
        self.x = metaflow.not_a_thing
