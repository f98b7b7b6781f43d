"""Metaflow 2.16+'s class-based step decorators, as a team would keep them in a module."""

from metaflow import UserStepDecorator, user_step_decorator


@user_step_decorator
def stamp(step_name, flow, inputs):
    yield
    flow.stamped = [*getattr(flow, "stamped", []), step_name]


class SkipSteps(UserStepDecorator):
    """Skips the steps named in `skip`; the others run, and see `pre` set."""

    def init(self, *args, **kwargs):
        self.skip = kwargs.get("skip", [])

    def pre_step(self, step_name, flow, inputs=None):
        flow.pre = step_name
        if step_name in self.skip:
            self.skip_step = True

    def post_step(self, step_name, flow, exception=None):
        if step_name in self.skip:
            flow.skipped = step_name
        if exception:
            raise exception


class Swallow(UserStepDecorator):
    """Records the step's exception and swallows it: the step goes on as if it succeeded."""

    def post_step(self, step_name, flow, exception=None):
        flow.swallowed = repr(exception)
        return None


class Instead(UserStepDecorator):
    """Runs its own function instead of the step; True: go where the step goes."""

    def pre_step(self, step_name, flow, inputs=None):
        def replacement(flow, *args):
            flow.replaced = step_name
            return True

        return replacement

    def post_step(self, step_name, flow, exception=None):
        return None
