from metaflow import FlowSpec, step
from metaflow.exception import MetaflowException


class MissingThing(MetaflowException):
    headline = "A thing is missing"


class ExceptionsFlow(FlowSpec):
    """metaflow.exception's classes can be raised, caught and subclassed inside steps."""

    @step
    def start(self):
        try:
            raise MissingThing("the thing")
        except MetaflowException as exc:
            self.caught = type(exc).__name__
            self.caught_message = exc.message
            self.headline = exc.headline
            self.mro_names = [k.__name__ for k in type(exc).__mro__][:3]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExceptionsFlow()
