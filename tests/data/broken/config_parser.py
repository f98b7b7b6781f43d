# expect: 6:52: Config 'cfg': parser= is not supported
from metaflow import Config, FlowSpec, step


class F(FlowSpec):
    cfg = Config("cfg", default="cfg.toml", parser="tomllib.loads")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
