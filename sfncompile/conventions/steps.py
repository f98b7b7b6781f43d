"""Step names with a meaning of their own."""

# A flow begins at `start` and ends at `end`, unless `@step(start=True)` or `@step(end=True)`
# names other steps; the graph then records them as `start_step` and `end_step`.
START = "start"
END = "end"

# The step name under which a job of the state machine's failure path runs the flow's
# @exit_hook on_error functions instead of a step (runtime/exit_hook.py); no step is named so.
ON_ERROR_HOOK_STEP = "_exit_hook_on_error"
