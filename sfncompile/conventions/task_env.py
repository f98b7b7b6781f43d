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

# A @parallel step's nodes. AWS Batch sets these on every node of a multi-node job (the main
# node's own address is not among them: it is the main node).
BATCH_NODE_INDEX_ENV = "AWS_BATCH_JOB_NODE_INDEX"
BATCH_NUM_NODES_ENV = "AWS_BATCH_JOB_NUM_NODES"
BATCH_MAIN_IP_ENV = "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"
# What the runtime sets for a node's step, with Metaflow's names: `current.parallel` reads them,
# and so does what the step starts (torchrun, mpirun, ...).
PARALLEL_MAIN_IP_ENV = "MF_PARALLEL_MAIN_IP"
PARALLEL_NUM_NODES_ENV = "MF_PARALLEL_NUM_NODES"
PARALLEL_NODE_INDEX_ENV = "MF_PARALLEL_NODE_INDEX"
PARALLEL_CONTROL_TASK_ENV = "MF_PARALLEL_CONTROL_TASK_ID"

# Set ("1") in the shell, or on a step with @environment: its tasks each start in a fresh
# interpreter that imports the flow module itself, instead of being forked from the local
# runner's fork server, which imported the module once for the run.
FRESH_INTERPRETER_ENV = "SFNCOMPILE_FRESH_INTERPRETER"


def wants_fresh_interpreter(environ: dict[str, str]) -> bool:
    return environ.get(FRESH_INTERPRETER_ENV, "").strip().lower() not in ("", "0", "false", "no")
