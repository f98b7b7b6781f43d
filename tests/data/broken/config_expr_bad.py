# expect: 11:20: step 'start': argument 'cpu' of @resources: config_expr('cfg.cpu // 0') failed: ZeroDivisionError
# expect: 15:20: step 'end': argument 'cpu' of @resources: the Config 'cfg' has no cfg['gpu']
# expect: 16:20: step 'end': @environment: `**cfg.n`: only a Config (or a key of one) holding an object
from metaflow import Config, FlowSpec, config_expr, environment, resources, step


class F(FlowSpec):
    cfg = Config("cfg", default_value={"cpu": 2, "env": {"vars": {"A": "1"}}, "n": 3})

    @step
    @resources(cpu=config_expr("cfg.cpu // 0"))
    def start(self):
        self.next(self.end)

    @resources(cpu=cfg.gpu)
    @environment(**cfg.n)
    @step
    def end(self):
        pass
