import functools

from metaflow import FlowSpec, step


def record_step(func):
    """A user's own decorator, written with functools.wraps, placed above @step."""

    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        self.wrapped = [*getattr(self, "wrapped", []), func.__name__]
        return func(self, *args, **kwargs)

    return wrapper


class UserDecoratorWrapsFlow(FlowSpec):
    @record_step
    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @record_step
    @step
    def end(self):
        self.value += 1


if __name__ == "__main__":
    UserDecoratorWrapsFlow()
