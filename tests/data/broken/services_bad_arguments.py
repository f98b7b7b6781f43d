# expect: 11:22: step 'start': argument 'sources' of @secrets is not a list of secret sources: source 'prod.db': unknown secrets backend 'prod'
# expect: 12:16: step 'start': argument 'type' of @card must be one of 'default', 'blank'
# expect: 17:22: step 'end': argument 'sources' of @secrets is not a list of secret sources: source {'id': 7}: 'id' must be a string
# expect: 18:11: step 'end': unknown argument 'colour' of @card
from sfncompile import FlowSpec, card, secrets, step

PLAIN_ID = "plain"


class ServicesBadArguments(FlowSpec):
    @secrets(sources=[PLAIN_ID, "prod.db"])
    @card(type="fancy")
    @step
    def start(self) -> None:
        self.next(self.end)

    @secrets(sources=[{"id": 7}])
    @card(colour="red")
    @step
    def end(self) -> None:
        pass
