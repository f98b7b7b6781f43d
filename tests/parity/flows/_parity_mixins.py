"""Steps, a parameter and a constant shared by flows beside this module."""

from metaflow import FlowSpec, Parameter, step


class LoggingMixin:
    """A plain mixin: a helper method, no steps."""

    def note(self, text):
        self.notes = [*getattr(self, "notes", []), text]


class BaseFlow(FlowSpec, LoggingMixin):
    size = Parameter("size", default=4)
    UNIT = "cm"

    @step
    def start(self):
        self.note("start")
        self.next(self.train)

    @step
    def end(self):
        self.note("end")
