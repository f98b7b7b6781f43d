# expect: 7:6: step 'start': unknown decorator @kubernets: not a Metaflow decorator, and not defined or imported in this module
# expect: 8:6: step 'start': @pypi is Metaflow's decorator but is not imported: add `from metaflow import pypi`
from sfncompile import FlowSpec, step

class F(FlowSpec):
    @step
    @kubernets(cpu=2)
    @pypi(packages={"numpy": ""})
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
