from metaflow import Config, FlowSpec, config_expr, resources, step


class ConfigExprFlow(FlowSpec):
    """Config with a default value; config_expr feeds a decorator argument."""

    cfg = Config("cfg", default_value={"cpu": 1, "mode": "fast", "retries": 2})

    @resources(cpu=config_expr("cfg.cpu"))
    @step
    def start(self):
        self.mode = self.cfg.mode
        self.retries = self.cfg["retries"]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConfigExprFlow()
