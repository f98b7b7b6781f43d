# expect: 12:18: step 'start': argument 'times' of @retry must be at most 99,999,999 (Step Functions' largest Retry MaxAttempts)
# expect: 12:53: step 'start': argument 'minutes_between_retries' of @retry must be at most 1,666,666
# expect: 13:20: step 'start': argument 'hours' of @timeout must be at most 27,777 (Step Functions' largest TimeoutSeconds is 99,999,999)
# expect: 14:20: step 'start': argument 'cpu' of @resources must be at most 192 (the most vCPUs an AWS Batch job on EC2 can reserve)
# expect: 14:34: step 'start': argument 'memory' of @resources must be at most 25,165,824
# expect: 14:48: step 'start': argument 'gpu' of @resources must be at most 16 (the most GPUs of any EC2 instance type)
# expect: 15:19: step 'start': argument 'memory' of @batch must be at least 4
# expect: 20:6: step 'end': @timeout adds up to 100,000,800 seconds; Step Functions' largest TimeoutSeconds is 99,999,999
from sfncompile import FlowSpec, batch, resources, retry, step, timeout

class F(FlowSpec):
    @retry(times=100000000, minutes_between_retries=2000000)
    @timeout(hours=30000)
    @resources(cpu=1e999, memory=30000000, gpu=17)
    @batch(memory=2)
    @step
    def start(self):
        self.next(self.end)

    @timeout(hours=27777, minutes=60)
    @step
    def end(self):
        pass
