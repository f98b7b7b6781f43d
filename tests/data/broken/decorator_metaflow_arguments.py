# expect: 12:23: step 'start': argument 'swappiness' of @batch must be at most 99
# expect: 12:41: step 'start': argument 'host_volumes' of @batch must be strings
# expect: 13:22: step 'start': argument 'sources' of @secrets is not a list of secret sources
# expect: 14:11: step 'start': unknown argument 'image' of @card (allowed: type, id, options
# expect: 9:2: @exit_hook needs on_success=[...] or on_error=[...]
# expect: 10:22: flow 'F': argument 'on_error' of @exit_hook must list functions defined or imported in this module, or their names, not `lambda: 1`
# expect: 19:6: step 'end': @schedule is a flow decorator: put it on the class
from metaflow import FlowSpec, step, batch, secrets, card, exit_hook, schedule
@exit_hook(options={})
@exit_hook(on_error=[lambda: 1])
class F(FlowSpec):
    @batch(swappiness=100, host_volumes=[1])
    @secrets(sources=[1])
    @card(image="x")
    @step
    def start(self):
        self.next(self.end)

    @schedule(daily=True)
    @step
    def end(self):
        pass
