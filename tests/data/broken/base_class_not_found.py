# expect: 6:9: no flow found: cannot read a base class: 'SharedBase' comes from 'company_flows', which is not a module beside the flow
from company_flows import SharedBase
from metaflow import step


class F(SharedBase):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
