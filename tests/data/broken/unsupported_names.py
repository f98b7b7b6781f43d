# expect: 14:13: `Deploy`: metaflow.Deployer is Metaflow's deployer API, which sfncompile does not provide
# expect: 15:13: `mf.mflog`: metaflow.mflog is a module of Metaflow's own machinery
# expect: 16:16: `import metaflow.datastore`: metaflow.datastore is a module of Metaflow's own machinery
# expect: 17:9: `from metaflow.util import ...`: metaflow.util is a module of Metaflow's own machinery
# expect: 18:47: `from metaflow.decorators import StepDecorator`: sfncompile does not provide metaflow.decorators.StepDecorator
# expect: 23:13: `yaml_parser`: metaflow.yaml_parser parses a Config's text
import metaflow as mf
from metaflow import Config, FlowSpec, NBDeployer, R, step, yaml_parser, Deployer as Deploy


class F(FlowSpec):
    @step
    def start(self):
        d = Deploy(flow_file="f.py")
        m = mf.mflog
        import metaflow.datastore
        from metaflow.util import is_stringish
        from metaflow.decorators import step, StepDecorator
        self.next(self.end)

    @step
    def end(self):
        p = yaml_parser
