from metaflow import FlowSpec, catch, resources, retry, step, timeout


class DecoratorsBareFlow(FlowSpec):
    """Decorators without parentheses take Metaflow's defaults."""

    @retry
    @catch
    @resources
    @timeout(hours=1)
    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoratorsBareFlow()
