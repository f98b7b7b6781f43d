from metaflow import FlowSpec, exit_hook, step


def notify(run=None):
    print("the run ended")


@exit_hook(on_success=[notify], on_error=[notify])
class ExitHookFlow(FlowSpec):
    """@exit_hook functions run after the flow; they do not change its artifacts."""

    @step
    def start(self):
        self.value = "x"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExitHookFlow()
