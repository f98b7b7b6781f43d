"""Environment variables that whoever starts a task sets for the runtime to read."""

# The datastore root of the run (also what the client reads by default).
DATASTORE_ENV = "SFNCOMPILE_DATASTORE_ROOT"
# The run a resumed run clones from.
ORIGIN_RUN_ENV = "SFNCOMPILE_ORIGIN_RUN"
# Set ("1") on the AWS Batch jobs of a hybrid run: the local runner drives the run, so it,
# not the job of the last step, calls the @exit_hook functions, and the run publishes no
# finish event, as no local run does.
LOCAL_DRIVER_ENV = "SFNCOMPILE_LOCAL_DRIVER"


def driven_locally(environ: dict[str, str] | None = None) -> bool:
    import os

    return (os.environ if environ is None else environ).get(LOCAL_DRIVER_ENV) == "1"


# Set ("1") in the shell, or on a step with @environment: its tasks each start in a fresh
# interpreter that imports the flow module itself, instead of being forked from the local
# runner's fork server, which imported the module once for the run.
FRESH_INTERPRETER_ENV = "SFNCOMPILE_FRESH_INTERPRETER"


def wants_fresh_interpreter(environ: dict[str, str]) -> bool:
    return environ.get(FRESH_INTERPRETER_ENV, "").strip().lower() not in ("", "0", "false", "no")
