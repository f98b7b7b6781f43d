from metaflow import FlowSpec, catch, current, retry, step


class RetryCatchFlow(FlowSpec):
    """@catch records the exception only after @retry has used every attempt."""

    @catch(var="error", print_exception=False)
    @retry(times=1, minutes_between_retries=0)
    @step
    def start(self):
        self.last_attempt = current.retry_count
        if self.last_attempt >= 0:
            raise KeyError("always")
        self.next(self.end)

    @step
    def end(self):
        self.error_type = self.error.type
        self.error_text = self.error.exception


if __name__ == "__main__":
    RetryCatchFlow()
