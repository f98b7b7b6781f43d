# build-args: --format cloudformation
# expect: 7:6: step 'start': @kubernetes cannot run on AWS Step Functions with sfncompile (steps run as AWS Batch jobs): use @batch
from metaflow import FlowSpec, step, kubernetes

class F(FlowSpec):
    @step
    @kubernetes(cpu=2, memory=8192)
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
