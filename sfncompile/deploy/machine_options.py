"""What Metaflow's `step-functions create` options change in a deployment, on sfncompile's
IR and ASL: `--max-workers` and `--use-distributed-map` (every foreach), `--workflow-timeout`
(the state machine's TimeoutSeconds), `--tag` and `--namespace` (the run record that the
execution writes, so that the client reads them as the run's tags), and the runs' system
tags (`run_system_tags`, given by deploy).

The same options give the same definition with `--only-json` as on a deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sfncompile.client.tags import validate_tag
from sfncompile.errors import UsageError
from sfncompile.exception import MetaflowTaggingError
from sfncompile.ir import FlowIR

# Step Functions' limit on a standard execution: one year.
MAX_WORKFLOW_TIMEOUT = 365 * 24 * 3600


@dataclass(frozen=True)
class MachineOptions:
    max_workers: int | None = None
    use_distributed_map: bool = False
    workflow_timeout: int | None = None
    run_tags: tuple[str, ...] = ()
    namespace: str | None = None
    system_tags: tuple[str, ...] = ()  # run_system_tags(): who deployed, the runtime, project

    def check(self) -> MachineOptions:
        if self.max_workers is not None and self.max_workers < 1:
            raise UsageError(f"--max-workers {self.max_workers}: at least 1")
        timeout = self.workflow_timeout
        if timeout is not None and not 1 <= timeout <= MAX_WORKFLOW_TIMEOUT:
            raise UsageError(f"--workflow-timeout {timeout}: 1 to {MAX_WORKFLOW_TIMEOUT} "
                             "seconds (Step Functions runs a standard execution a year at "
                             "most)")
        for tag in (*self.run_tags, *([self.namespace] if self.namespace is not None else [])):
            try:
                validate_tag(tag)
            except MetaflowTaggingError as exc:
                raise UsageError(f"tag {tag!r}: {exc}") from None
        return self

    def flow(self, flow: FlowIR) -> FlowIR:
        """The flow with every foreach that sets no MaxConcurrency given `max_workers`, and
        every foreach a Distributed Map with `use_distributed_map`."""
        if not self.max_workers and not self.use_distributed_map:
            return flow
        steps = []
        for step in flow.steps:
            options = step.policies.foreach
            if step.kind == "foreach":
                if self.max_workers and options.max_concurrency is None:
                    options = replace(options, max_concurrency=self.max_workers)
                if self.use_distributed_map:
                    options = replace(options, mode="distributed")
                step = replace(step, policies=replace(step.policies, foreach=options))
            steps.append(step)
        return flow.with_steps(tuple(steps))

    def definition(self, definition: dict[str, Any]) -> dict[str, Any]:
        """The ASL with the execution's timeout and the run record's tags."""
        out = dict(definition)
        if self.workflow_timeout is not None:
            out["TimeoutSeconds"] = self.workflow_timeout
        if self.run_tags or self.namespace or self.system_tags:
            out["States"] = {name: self._with_tags(state)
                             for name, state in definition["States"].items()}
        return out

    def _with_tags(self, state: dict[str, Any]) -> dict[str, Any]:
        """A state that writes the run record (`runner` step-functions), with the tags."""
        body = (state.get("Parameters") or {}).get("Body")
        if not isinstance(body, dict) or body.get("runner") != "step-functions":
            return state
        body = dict(body)
        if self.run_tags:
            body["tags"] = sorted(set(self.run_tags))
        system = {*self.system_tags, *([self.namespace] if self.namespace else [])}
        if system:
            body["system_tags"] = sorted(system)
        return {**state, "Parameters": {**state["Parameters"], "Body": body}}



def logging_configuration(log_group: str | None) -> dict[str, Any]:
    """The state machine's loggingConfiguration: the whole execution history, with its
    data, to the log group (Metaflow's --log-execution-history); OFF without one."""
    if not log_group:
        return {"level": "OFF", "includeExecutionData": False}
    if not log_group.startswith("arn:") or ":log-group:" not in log_group:
        raise UsageError(f"log_group {log_group!r}: the ARN of a CloudWatch Logs log group "
                         "(arn:aws:logs:REGION:ACCOUNT:log-group:NAME)")
    arn = log_group if log_group.endswith(":*") else f"{log_group}:*"
    return {"level": "ALL", "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]}


def run_system_tags(project: dict[str, Any] | None) -> tuple[str, ...]:
    """The system tags of the deployment's runs, as Metaflow's step-functions runs carry
    them: who deployed (`user:<name>`, or `production:<token>` with
    METAFLOW_PRODUCTION_TOKEN set; the client's default namespace), `runtime:step-functions`,
    the version of the sfncompile that the code package carries (`sfncompile_version:`, as a
    local run's) and, for a @project flow, `project:` and `project_branch:`. A run is in a
    namespace by them, as a local run is by its own (local/runner.py system_tags)."""
    from sfncompile.flow.current import resolve_identity, version_tag

    identity = resolve_identity()
    tags = [identity] if identity else []
    tags += ["runtime:step-functions", version_tag()]
    if project is not None:
        tags += [f"project:{project['name']}", f"project_branch:{project['branch_name']}"]
    return tuple(sorted(tags))
