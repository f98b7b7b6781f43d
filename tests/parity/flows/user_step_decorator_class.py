from _user_decorators import Instead, SkipSteps, Swallow, stamp
from metaflow import FlowSpec, Parameter, step


class UserStepDecoratorClassFlow(FlowSpec):
    alpha = Parameter("alpha", default=2)

    @SkipSteps(skip=["skipped"])
    @step
    def start(self):
        self.ran = ["start"]
        self.next(self.skipped)

    @SkipSteps(skip=["skipped"])
    @step
    def skipped(self):
        self.ran = [*self.ran, "skipped"]
        self.next(self.failing)

    @Swallow
    @stamp
    @step
    def failing(self):
        self.before_failure = self.alpha
        raise ValueError("swallowed by the decorator")
        self.next(self.replaced_step)

    @Instead
    @step
    def replaced_step(self):
        self.ran = [*self.ran, "replaced_step"]
        self.next(self.end)

    @stamp
    @step
    def end(self):
        self.total = self.alpha * 10


if __name__ == "__main__":
    UserStepDecoratorClassFlow()
