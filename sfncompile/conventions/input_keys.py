"""Keys of an execution's input that are not parameters (the client leaves them out): no
Parameter can be named so, as a parameter's name is a command-line option's."""

TRIGGER_KEY = "_sfncompile_trigger"  # what started a triggered run (runtime/events.py)
RESUME_INPUT_KEY = "__sfncompile_resume"  # what a run resumed --on-aws reuses (runtime/reuse.py)
