# expect: 8:6: step 'start': unknown decorator @kubernets: not a Metaflow decorator, and not defined or imported in this module
# expect: 9:6: step 'start': @pypi is Metaflow's decorator but is not imported: add `from metaflow import pypi`
# expect: 14:6: step 'end': @parallel runs a step as a gang of nodes
from sfncompile import FlowSpec, step, parallel

class F(FlowSpec):
    @step
    @kubernets(cpu=2)
    @pypi(packages={"numpy": ""})
    def start(self):
        self.next(self.end)

    @step
    @parallel
    def end(self):
        pass
