# expect: 10:20: step 'start': argument 'cpu' of @resources: config_expr('cfg.cpu * 2'): sfncompile reads a Config's value or a key path in it
# expect: 14:20: step 'end': argument 'cpu' of @resources: the Config 'cfg' has no cfg['gpu']
from metaflow import Config, FlowSpec, config_expr, resources, step


class F(FlowSpec):
    cfg = Config("cfg", default_value={"cpu": 2})

    @step
    @resources(cpu=config_expr("cfg.cpu * 2"))
    def start(self):
        self.next(self.end)

    @resources(cpu=cfg.gpu)
    @step
    def end(self):
        pass
