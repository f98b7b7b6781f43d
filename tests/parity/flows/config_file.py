from metaflow import Config, FlowSpec, step


class ConfigFileFlow(FlowSpec):
    """Config reads a JSON file when the run starts; values by key and by attribute."""

    settings = Config("settings", default="data/config.json")

    @step
    def start(self):
        self.cpu = self.settings.cpu
        self.name_value = self.settings["name"]
        self.nested = self.settings.nested.k
        self.as_dict = dict(self.settings)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConfigFileFlow()
