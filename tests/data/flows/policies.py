from sfncompile import FlowSpec, catch, current, retry, step


class PoliciesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count < 2:
            raise RuntimeError(f"attempt {current.retry_count} fails")
        self.attempts = current.retry_count
        self.next(self.risky)

    @catch(var="failure", print_exception=False)
    @step
    def risky(self):
        raise KeyError("caught and recorded")
        self.next(self.end)

    @step
    def end(self):
        self.failure_type = self.failure.type  # Metaflow's wrapper: the dotted class name
