from metaflow import FlowSpec, step, user_step_decorator


@user_step_decorator
def tag_step(step_name, flow, inputs=None, attributes=None):
    """Metaflow's user_step_decorator: code before and after the step, with arguments."""
    flow.before = f"before {step_name}"
    yield
    flow.after = f"after {step_name} {dict(attributes or {}).get('suffix', '')}".strip()


class UserStepDecoratorFlow(FlowSpec):
    @tag_step
    @step
    def start(self):
        self.during = self.before
        self.next(self.end)

    @tag_step(suffix="!")
    @step
    def end(self):
        pass


if __name__ == "__main__":
    UserStepDecoratorFlow()
