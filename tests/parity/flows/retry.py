from metaflow import FlowSpec, current, retry, step


class RetryFlow(FlowSpec):
    """@retry runs a failed step again; artifacts come from the attempt that succeeded."""

    @retry(times=2, minutes_between_retries=0)
    @step
    def start(self):
        self.attempt = current.retry_count
        if current.retry_count < 2:
            raise RuntimeError(f"attempt {current.retry_count} fails")
        self.next(self.end)

    @step
    def end(self):
        self.end_attempt = current.retry_count


if __name__ == "__main__":
    RetryFlow()
