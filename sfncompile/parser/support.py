"""What each decorator that Metaflow exports means under sfncompile, per backend.

The parser's argument tables (parser/decorators.py) say what a decorator takes; this table says
what it does locally (`sfncompile run`) and on AWS (`build`, `deploy`). The README's decorator
table is rendered from it (`markdown_table`), and a test compares both with the decorators the
installed `metaflow` package exports, so a new Metaflow decorator is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["implemented", "accepted", "refused"]


@dataclass(frozen=True)
class Support:
    scope: Literal["step", "flow", "function"]
    local: Status
    aws: Status
    meaning: str  # what it does, or why it is refused and what to use instead


SUPPORT: dict[str, Support] = {
    "step": Support("step", "implemented", "implemented", "marks a step"),
    "user_step_decorator": Support(
        "function", "implemented", "implemented",
        "makes a generator into a step decorator that runs around the step at task time"),
    "batch": Support(
        "step", "accepted", "implemented",
        "AWS: sizing, image, queue, roles and every container setting (swap, tmpfs, devices, "
        "volumes, log driver, tags, privileged) go into the step's job definition; "
        "`ephemeral_storage` applies on Fargate only, `executable` is not used (the image's "
        "`python3` runs tasks). Local: the step runs as a local process"),
    "resources": Support(
        "step", "accepted", "implemented",
        "AWS: cpu, memory, gpu and shared memory size the Batch job (the larger of @batch and "
        "@resources wins); `disk` has no Batch setting and is ignored. Local: no limits"),
    "retry": Support("step", "implemented", "implemented",
                     "retries a failed task (ASL `Retry` on AWS)"),
    "catch": Support("step", "implemented", "implemented",
                     "records the failure as an artifact and goes on; not on a foreach or "
                     "switch step (as in Metaflow)"),
    "timeout": Support("step", "implemented", "implemented",
                       "fails a task that runs longer"),
    "environment": Support("step", "implemented", "implemented",
                           "sets environment variables for the task"),
    "card": Support("step", "implemented", "implemented",
                    "renders an HTML report of the task, stored with it"),
    "secrets": Support("step", "implemented", "implemented",
                       "AWS Secrets Manager values as environment variables at task start"),
    "pypi": Support(
        "step", "accepted", "accepted",
        "no environment is built. Local: the run checks that the packages are importable "
        "and names the missing ones; AWS: `deploy` lists them: the image must provide them. "
        "`python=` is only recorded: an expression (`get_python_version()`) is kept as "
        "written, never evaluated"),
    "conda": Support("step", "accepted", "accepted", "as @pypi"),
    "pypi_base": Support("flow", "accepted", "accepted",
                         "as @pypi, for every step (a step's @pypi updates it)"),
    "conda_base": Support("flow", "accepted", "accepted", "as @pypi_base"),
    "kubernetes": Support(
        "step", "accepted", "refused",
        "Local: ignored, as Metaflow's local runs do. AWS: refused by `deploy` (no Kubernetes "
        "backend): use @batch with the same cpu, memory, gpu and image; `build` (ASL or "
        "CloudFormation) warns and emits a plain Batch step"),
    "exit_hook": Support(
        "flow", "implemented", "implemented",
        "calls functions of the flow's module when the run ends (`on_success`, `on_error`; "
        "a function taking `run` gets the run). AWS: the `end` task calls the on_success "
        "hooks after it commits"),
    "schedule": Support("flow", "accepted", "implemented",
                        "AWS: an EventBridge rule (or Scheduler with a time zone); "
                        "local: ignored"),
    "project": Support("flow", "implemented", "implemented",
                       "names the project and branch (`current.project_name`, ...)"),
    "trigger": Support("flow", "accepted", "implemented",
                       "AWS: an EventBridge rule starts the run on an event; local: ignored"),
    "trigger_on_finish": Support(
        "flow", "accepted", "implemented",
        "AWS: a run starts when the named flow's run succeeds; local: ignored"),
    "parallel": Support(
        "step", "implemented", "implemented",
        "a multi-node step, reached by `self.next(self.x, num_parallel=N)` and followed by a "
        "join: N tasks with `current.parallel` (`main_ip`, `num_nodes`, `node_index`, "
        "`control_task_id`). Local: N processes started together; AWS: one multi-node Batch "
        "job of N nodes"),
    "pytorch_parallel": Support("step", "refused", "refused",
                                "its PyTorch setup is not provided: use @parallel and start "
                                "torch.distributed from `current.parallel`"),
    "airflow_s3_key_sensor": Support("flow", "refused", "refused",
                                     "an Airflow sensor: use @trigger"),
    "airflow_external_task_sensor": Support("flow", "refused", "refused",
                                            "an Airflow sensor: use @trigger_on_finish"),
    "airflow_internal": Support("step", "refused", "refused",
                                "internal to Metaflow's Airflow integration: remove it"),
    "argo_workflows_internal": Support("step", "refused", "refused",
                                       "internal to Metaflow's Argo integration: remove it"),
    "step_functions_internal": Support("step", "refused", "refused",
                                       "internal to Metaflow's Step Functions integration: "
                                       "remove it"),
    "unbounded_test_foreach_internal": Support("step", "refused", "refused",
                                               "internal to Metaflow's tests: remove it"),
}

# sfncompile's own decorators, which Metaflow does not have.
OWN = {"foreach_options": Support("step", "accepted", "implemented",
                                  "AWS: Inline or Distributed Map and its concurrency")}


def markdown_table() -> str:
    """The README's decorator table, one row per Metaflow decorator in alphabetical order."""
    rows = ["| decorator | on | local run | AWS | meaning |", "|---|---|---|---|---|"]
    for name in sorted(SUPPORT):
        s = SUPPORT[name]
        rows.append(f"| `@{name}` | {s.scope} | {s.local} | {s.aws} | {s.meaning} |")
    return "\n".join(rows) + "\n"
