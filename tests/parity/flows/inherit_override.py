from metaflow import FlowSpec, step


class Template(FlowSpec):
    @step
    def start(self):
        self.source = "template"
        self.next(self.middle)

    @step
    def middle(self):
        self.middle_source = "template"
        self.next(self.end)

    @step
    def end(self):
        pass


class InheritOverrideFlow(Template):
    """A subclass overrides one inherited step."""

    @step
    def middle(self):
        self.middle_source = "subclass"
        self.next(self.end)


if __name__ == "__main__":
    InheritOverrideFlow()
