# expect: 14:13: `Spin`: metaflow.inspect_spin inspects a `spin` run, and sfncompile has no spin command
# expect: 15:13: `mf.mflog`: metaflow.mflog is a module of Metaflow's own machinery
# expect: 16:16: `import metaflow.datastore`: metaflow.datastore is a module of Metaflow's own machinery
# expect: 17:9: `from metaflow.util import ...`: metaflow.util is a module of Metaflow's own machinery
# expect: 18:47: `from metaflow.decorators import StepDecorator`: sfncompile does not provide metaflow.decorators.StepDecorator
# expect: 23:13: `yaml_parser`: metaflow.yaml_parser parses a Config's text
import metaflow as mf
from metaflow import Config, FlowSpec, R, step, yaml_parser, inspect_spin as Spin


class F(FlowSpec):
    @step
    def start(self):
        d = Spin("F/1/start")
        m = mf.mflog
        import metaflow.datastore
        from metaflow.util import is_stringish
        from metaflow.decorators import step, StepDecorator
        self.next(self.end)

    @step
    def end(self):
        p = yaml_parser
