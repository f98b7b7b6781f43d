# expect: 25:2: flow 'F': @Robust is a FlowMutator: it adds decorators or parameters when Metaflow loads the flow, and sfncompile compiles a flow without running it
# expect: 27:6: step 'start': @AddRetry is a StepMutator
# expect: 33:6: step 'end': @Deeper is a StepMutator
from metaflow import FlowMutator, FlowSpec, StepMutator, UserStepDecorator, step


class AddRetry(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator("retry")


class Deeper(AddRetry):
    pass


class Robust(FlowMutator):
    def pre_mutate(self, mutable_flow):
        pass


class Fine(UserStepDecorator):  # runs around the step at task time: accepted
    pass


@Robust
class F(FlowSpec):
    @AddRetry
    @Fine
    @step
    def start(self):
        self.next(self.end)

    @Deeper(times=2)
    @step
    def end(self):
        pass
