"""Metaflow's programmatic deployment API, on AWS Step Functions:

    deployed_flow = Deployer("flow.py").step_functions(name="x").create()
    triggered_run = deployed_flow.trigger(alpha=3)
    triggered_run.wait_for_run().data.x         # the client's Run, once the run exists
    DeployedFlow.from_deployment("x").delete()

It does what `sfncompile deploy`, `trigger`, `status` and `delete` do, in this process (no
`python flow.py` subprocess as Metaflow starts). Settings come from the same places as
`sfncompile deploy`'s (sfncompile.toml, [tool.sfncompile], SFNCOMPILE_* variables), and from
the keyword arguments of `step_functions(...)` (`s3_root=`, `job_queue=`, ...), which win.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sfncompile.deploy.config import NAMES, Config, load_config, parse_tags
from sfncompile.deploy.machine_options import MachineOptions, run_system_tags
from sfncompile.errors import UsageError
from sfncompile.exception import MetaflowNotFound
from sfncompile.flow.notebook import flow_source
from sfncompile.ir import FlowIR

if TYPE_CHECKING:  # boto3 and the client load when AWS is called: --only-json needs neither
    from sfncompile.client import Run
    from sfncompile.deploy.aws import AwsClients

# Deployer(**kwargs): the top-level options of `python flow.py` that mean something here.
_TOP_LEVEL = ("branch", "production", "with_", "decospecs", "flow", "config", "config_value")
# Metaflow's top-level options that choose nothing here (accepted, as `python flow.py` does).
_IGNORED_TOP_LEVEL = ("quiet", "pylint", "metadata", "environment", "datastore",
                      "package_suffixes", "event_logger", "monitor")
# create(**kwargs): Metaflow's Step Functions options, and which need a refusal.
_CREATE = ("tags", "user_namespace", "only_json", "max_workers", "workflow_timeout",
           "use_distributed_map", "log_execution_history", "authorize",
           "deployer_attribute_file", "compress_state_machine")
_NO_TOKENS = ("sfncompile has no production tokens: anyone with the AWS permissions deploys; "
              "give user_namespace= for the runs' namespace")
_STATES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class DeployerError(UsageError):
    """A deployment that cannot be made or found (the message says why)."""


@contextlib.contextmanager
def _environ(env: dict[str, str] | None) -> Iterator[None]:
    """`env` in os.environ for the duration (boto3 reads AWS_* variables from it)."""
    if not env:
        yield
        return
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _as_list(value: Any) -> list[str]:
    """One option's value, or several, as a list (None: none)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _param_text(value: Any) -> str:
    """A Python value as its command-line text (what a Parameter parses)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)


class Deployer:
    """Deploy `flow_file` to a production orchestrator; only `step_functions()` is offered.

    `env` (environment variables for the AWS calls), `cwd` and `show_output` are Metaflow's;
    `profile` and `file_read_timeout` are accepted and mean nothing here. `**kwargs` are
    `python flow.py`'s top-level options: `branch=`, `production=` (@project), `with_=`
    (a list of DECO[:K=V,...]), `config=[(NAME, PATH), ...]` and
    `config_value=[(NAME, dict), ...]` (the Configs' values, fixed in the deployment;
    METAFLOW_FLOW_CONFIG[_VALUE] in `env` or the environment otherwise) and sfncompile's
    `flow=` (the class, when the file has several)."""

    def __init__(self, flow_file: str | os.PathLike[str], show_output: bool = True,
                 profile: str | None = None, env: dict[str, str] | None = None,
                 cwd: str | None = None, file_read_timeout: int = 3600,
                 **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(_TOP_LEVEL) - set(_IGNORED_TOP_LEVEL))
        if unknown:
            raise TypeError(f"Deployer() does not take {', '.join(unknown)} (it takes "
                            f"{', '.join(_TOP_LEVEL)} and Metaflow's other top-level options)")
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self.flow_file = os.path.join(self.cwd, os.fspath(flow_file))
        self.show_output = show_output
        self.profile = profile
        self.env = dict(env or {})
        self.file_read_timeout = file_read_timeout
        self.top_level_kwargs = kwargs
        from sfncompile.parser.configs import api_config_pairs

        files, values = api_config_pairs(kwargs.get("config"), kwargs.get("config_value"))
        # A relative path is from `cwd`, where Metaflow's deployer runs the flow.
        self.config_pairs = (tuple((n, os.path.join(self.cwd, p)) for n, p in files), values)

    def step_functions(self, name: str | None = None, **settings: Any) -> StepFunctionsDeployer:
        """A deployer to AWS Step Functions; `name` is the state machine's (default: the name
        prefix and the flow's name), `settings` are sfncompile's deployment settings."""
        return StepFunctionsDeployer(self, name, settings)

    def argo_workflows(self, **kwargs: Any) -> Any:
        raise DeployerError("Deployer: sfncompile deploys to AWS Step Functions only; use "
                            "step_functions()")

    def kubernetes(self, **kwargs: Any) -> Any:
        return self.argo_workflows()


class StepFunctionsDeployer:
    """What `Deployer(...).step_functions(...)` gives: `create()` deploys."""

    TYPE: ClassVar[str] = "step-functions"

    def __init__(self, deployer: Deployer | None, name: str | None,
                 settings: dict[str, Any]) -> None:
        unknown = sorted(set(settings) - set(NAMES))
        if unknown:
            raise TypeError(f"step_functions() does not take {', '.join(unknown)} (it takes "
                            f"name and the deployment settings: {', '.join(NAMES)})")
        self.top = deployer
        self.deployer_kwargs: dict[str, Any] = {"name": name, **settings}
        self.name: str | None = name
        self.flow_name: str | None = None
        self.metadata: str | None = None
        self._flow: FlowIR | None = None

    @property
    def env(self) -> dict[str, str]:
        return self.top.env if self.top else {}

    def say(self, line: str) -> None:
        if self.top is not None and self.top.show_output:
            print(f"  {line}", file=sys.stderr, flush=True)

    @property
    def flow_file(self) -> Path:
        if self.top is None:
            raise DeployerError(f"{self.name}: a deployment found by its name has no flow "
                                "file; use Deployer(FLOW.py) to deploy")
        return Path(self.top.flow_file)

    def config(self) -> Config:
        flags = {k: v for k, v in self.deployer_kwargs.items() if k in NAMES}
        if "tags" in flags and not isinstance(flags["tags"], str | dict):  # ["K=V", ...]
            flags["tags"] = parse_tags(",".join(_as_list(flags["tags"])),
                                       "step_functions(tags=...)")
        with _environ(self.env):
            return load_config(self.flow_file.parent, flags)

    def flow(self) -> FlowIR:
        from sfncompile.parser import parse_flow
        from sfncompile.parser.configs import config_sources, unknown_configs
        from sfncompile.parser.with_decorators import apply_with

        top = self.top.top_level_kwargs if self.top else {}
        decospecs = [spec for key in ("with_", "decospecs")
                     for spec in _as_list(top.get(key))]
        files, values = self.top.config_pairs if self.top else ((), ())
        configs = config_sources(files, values, {**os.environ, **self.env})
        flow = parse_flow(self.flow_file, top.get("flow"), configs)
        problem = unknown_configs(flow, configs)
        if problem:
            raise DeployerError(problem)
        return apply_with(flow, tuple(decospecs))

    def create(self, **kwargs: Any) -> DeployedFlow:
        """Deploy (Metaflow's `step-functions create`): `tags` (the runs' tags),
        `user_namespace`, `max_workers`, `workflow_timeout`, `use_distributed_map`,
        `log_execution_history` (to the `log_group` setting's log group); with
        `only_json`, print the state machine and deploy nothing."""
        unknown = sorted(set(kwargs) - set(_CREATE) - {"generate_new_token", "given_token"})
        if unknown:
            raise TypeError(f"create() does not take {', '.join(unknown)} (it takes "
                            f"{', '.join(_CREATE)})")
        if kwargs.get("generate_new_token") or kwargs.get("given_token"):
            raise DeployerError(f"create(generate_new_token/given_token): {_NO_TOKENS}")
        if kwargs.get("compress_state_machine"):
            raise DeployerError("create(compress_state_machine=True): sfncompile's tasks read "
                                "their command from the code package already; leave it out")
        tags = kwargs.get("tags") or ()
        options = MachineOptions(kwargs.get("max_workers"),
                                 bool(kwargs.get("use_distributed_map")),
                                 kwargs.get("workflow_timeout"),
                                 (tags,) if isinstance(tags, str) else tuple(tags),
                                 kwargs.get("user_namespace")).check()
        if kwargs.get("only_json"):
            print(self.only_json(options), end="")
            return DeployedFlow(self)
        self._deploy(options, bool(kwargs.get("log_execution_history")))
        if kwargs.get("deployer_attribute_file"):
            Path(kwargs["deployer_attribute_file"]).write_text(json.dumps(
                {"name": self.name, "flow_name": self.flow_name, "metadata": self.metadata}))
        return DeployedFlow(self)

    def only_json(self, options: MachineOptions) -> str:
        """The state machine's ASL as `sfncompile build` prints it, with the options and the
        runs' system tags, as the deploy would create it."""
        from dataclasses import replace

        from sfncompile.deploy.projects import resolve_project
        from sfncompile.emit import compile_asl
        from sfncompile.emit.render import render_json

        flow = options.flow(self.flow())
        self.flow_name = flow.name
        options = replace(options, system_tags=run_system_tags(resolve_project(flow, None,
                                                                              False)))
        return render_json(options.definition(
            compile_asl(flow, check_schema=False, deployment=False)))

    def _deploy(self, options: MachineOptions, log_execution_history: bool) -> None:
        from sfncompile.deploy.aws import AwsClients
        from sfncompile.deploy.deployer import deploy, parse_schedule, prepare, workdir

        config = self.config()
        flow = self.flow()
        top = self.top.top_level_kwargs if self.top else {}
        with workdir() as tmp, _environ(self.env):
            target = prepare(flow, self.flow_file, config, name=self.name,
                             schedule=parse_schedule(None, flow, None), workdir=Path(tmp),
                             branch=top.get("branch"), production=bool(top.get("production")),
                             options=options, log_execution_history=log_execution_history)
            self.say(f"Deploying {flow.name} as {target.machine_name}")
            deploy(target, AwsClients(region=config.get("region")), self.say)
        self.name = target.machine_name
        self.flow_name = flow.name
        self.metadata = f"local@{str(config.get('s3_root')).rstrip('/')}"
        self._flow = flow


class DeployedFlow:
    """A flow deployed to Step Functions: `trigger`, `list_runs`, `delete`."""

    TYPE: ClassVar[str] = "step-functions"

    def __init__(self, deployer: StepFunctionsDeployer) -> None:
        self.deployer = deployer
        self.name = deployer.name
        self.flow_name = deployer.flow_name
        self.metadata = deployer.metadata

    @classmethod
    def from_deployment(cls, identifier: str, metadata: str | None = None,
                        impl: str = "step_functions") -> DeployedFlow:
        """The flow deployed as the state machine `identifier` (its flow and datastore are
        read from the state machine's definition; `metadata`, `local@s3://...`, overrides
        the datastore)."""
        from sfncompile.deploy.aws import AwsClients, find_state_machine

        _check_impl(impl)
        deployer = StepFunctionsDeployer(None, identifier, {})
        clients = AwsClients()
        arn = find_state_machine(clients, identifier)
        if arn is None:
            raise DeployerError(f"no state machine named {identifier!r} is deployed")
        definition = json.loads(clients.sfn.describe_state_machine(
            stateMachineArn=arn)["definition"])
        deployer.flow_name, root = _deployment_of(definition, identifier)
        deployer.metadata = metadata or f"local@{root}"
        return cls(deployer)

    @classmethod
    def get_triggered_run(cls, identifier: str, run_id: str, metadata: str | None = None,
                          impl: str = "step_functions") -> TriggeredRun:
        deployed = cls.from_deployment(identifier, metadata, impl)
        return TriggeredRun(deployed, f"{deployed.flow_name}/{run_id}")

    @classmethod
    def list_deployed_flows(cls, flow_name: str | None = None) -> Any:
        raise NotImplementedError("list_deployed_flows is not implemented for StepFunctions")

    @property
    def production_token(self) -> str | None:
        """None: sfncompile has no production tokens."""
        return None

    def _clients(self) -> AwsClients:
        from sfncompile.deploy.aws import AwsClients

        return AwsClients(region=self.deployer.deployer_kwargs.get("region"))

    def _machine_arn(self) -> str:
        from sfncompile.deploy.ops import machine_arn

        with _environ(self.deployer.env):
            return machine_arn(self._clients(), str(self.name))

    def trigger(self, **kwargs: Any) -> TriggeredRun:
        """Start a run with these Parameter values (by the parameters' names, `-` as `_`)."""
        from sfncompile.deploy.ops import execution_input, new_run_id

        flow = self.deployer._flow
        if flow is None and self.deployer.top is not None:
            flow = self.deployer._flow = self.deployer.flow()
        names = {p.name.replace("-", "_"): p.name for p in flow.parameters} if flow else {}
        given = {names.get(k, k): _param_text(v) for k, v in kwargs.items()}
        flow_dir = self.deployer.flow_file.parent if flow else None
        root = self.deployer.config().get("s3_root") if flow else None
        with _environ(self.deployer.env):
            payload = execution_input(flow, given, flow_dir,
                                      str(root).rstrip("/") if root else None)
        run_id = new_run_id()
        arn = self._machine_arn()
        with _environ(self.deployer.env):
            self._clients().sfn.start_execution(stateMachineArn=arn, name=run_id,
                                                input=json.dumps(payload))
        self.deployer.say(f"Started {self.name}/{run_id}")
        return TriggeredRun(self, f"{self.flow_name}/{run_id}")

    def list_runs(self, states: list[str] | None = None) -> list[TriggeredRun]:
        """The runs, newest first, of the given Step Functions states (default: all)."""
        states = list(states or [])
        bad = set(states) - set(_STATES)
        if bad:
            raise ValueError(f"Invalid states found: {sorted(bad)}. Valid states are: "
                             f"{list(_STATES)}")
        if len(states) != len(set(states)):
            raise ValueError("Duplicate states are not allowed")
        arn = self._machine_arn()
        runs = []
        with _environ(self.deployer.env):
            paginator = self._clients().sfn.get_paginator("list_executions")
            for state in states or [""]:
                query = {"stateMachineArn": arn, **({"statusFilter": state} if state else {})}
                for page in paginator.paginate(**query):
                    runs += page["executions"]
        runs.sort(key=lambda e: e["startDate"], reverse=True)
        return [TriggeredRun(self, f"{self.flow_name}/{e['name']}") for e in runs]

    def delete(self, **kwargs: Any) -> bool:
        """Remove the state machine, its schedule, rules and job definitions (the runs stay
        in S3); False when nothing of that name was deployed."""
        from sfncompile.deploy import ops
        from sfncompile.deploy.deployer import OWNER_TAG, rule_name
        from sfncompile.deploy.rules import delete_rules

        unknown = sorted(set(kwargs) - {"authorize"})
        if unknown:
            raise TypeError(f"delete() does not take {', '.join(unknown)}")
        name = str(self.name)
        bus = str(self.deployer.deployer_kwargs.get("event_bus") or "default")
        with _environ(self.deployer.env):
            clients = self._clients()
            removed = delete_rules(clients, name, bus, OWNER_TAG)
            removed += ops.delete(clients, name, rule_name(name))
        for item in removed:
            self.deployer.say(f"removed {item}")
        return bool(removed)

    def __repr__(self) -> str:
        return f"<DeployedFlow {self.name} ({self.flow_name}) on step-functions>"


class TriggeredRun:
    """A run started on Step Functions: `run` (the client's Run once the run exists),
    `status` (Step Functions' RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED),
    `terminate()`, `wait_for_run()`."""

    def __init__(self, deployed: DeployedFlow, pathspec: str) -> None:
        self.deployed_flow = deployed
        self.deployer = deployed.deployer
        self.pathspec = pathspec
        self.name = pathspec.partition("/")[2]
        self.metadata_for_flow = deployed.metadata

    def _execution_arn(self) -> str:
        from sfncompile.deploy.ops import execution_arn

        return execution_arn(self.deployed_flow._machine_arn(), self.name)

    @property
    def run(self) -> Run | None:
        """The run, from the deployment's datastore; None until the execution has recorded
        its start (no namespace check, as Metaflow's)."""
        from sfncompile.client import Run
        from sfncompile.datastore.storage import open_storage

        root = (self.metadata_for_flow or "").partition("@")[2]
        if not root:
            return None
        with _environ(self.deployer.env):
            try:
                return Run(self.pathspec, open_storage(root))
            except MetaflowNotFound:
                return None

    @property
    def status(self) -> str | None:
        """The execution's status, or None when Step Functions knows no such execution."""
        from botocore.exceptions import ClientError

        from sfncompile.deploy.aws import is_not_found

        arn = self._execution_arn()
        with _environ(self.deployer.env):
            try:
                found = self.deployed_flow._clients().sfn.describe_execution(executionArn=arn)
            except ClientError as exc:
                if is_not_found(exc):
                    return None
                raise
        return str(found["status"])

    def terminate(self, **kwargs: Any) -> bool:
        """Stop the execution (StopExecution); False when it was not running."""
        from botocore.exceptions import ClientError

        from sfncompile.deploy.aws import is_not_found

        if self.status != "RUNNING":
            return False
        arn = self._execution_arn()
        with _environ(self.deployer.env):
            try:
                self.deployed_flow._clients().sfn.stop_execution(
                    executionArn=arn, error="sfncompile.Terminated",
                    cause="terminated through TriggeredRun.terminate()")
            except ClientError as exc:
                if is_not_found(exc):
                    return False
                raise
        return True

    def wait_for_run(self, check_interval: float = 5, timeout: float | None = None) -> Run:
        """The run, once it exists; TimeoutError after `timeout` seconds."""
        started = time.monotonic()
        while (run := self.run) is None:
            if timeout is not None and time.monotonic() - started > timeout:
                raise TimeoutError("Timed out waiting for the run object to become available.")
            time.sleep(check_interval)
        return run

    def __repr__(self) -> str:
        return f"<TriggeredRun {self.pathspec} on step-functions>"


def _check_impl(impl: str) -> None:
    if impl.replace("-", "_") != "step_functions":
        raise ValueError(f"No deployer '{impl}' exists; valid deployers are: "
                         "['step_functions']")


def _deployment_of(definition: dict[str, Any], name: str) -> tuple[str, str]:
    """(flow name, datastore root) of a deployed definition, read from the state that writes
    the run record: Bucket, and Key `<prefix><Flow>/{}/_run.json`."""
    from sfncompile.emit.names import INIT

    params = (definition.get("States", {}).get(INIT) or {}).get("Parameters") or {}
    key = str(params.get("Key.$", ""))
    inner = key.partition("'")[2].rpartition("'")[0]
    path = inner.removesuffix("/{}/_run.json")
    if not params.get("Bucket") or path == inner or not path:
        raise DeployerError(f"the state machine {name!r} was not deployed by sfncompile")
    prefix, _, flow = path.rpartition("/")
    root = f"s3://{params['Bucket']}" + (f"/{prefix}" if prefix else "")
    return flow, root


class NBDeployerInitializationError(Exception):
    pass


class NBDeployer:
    """Deploy a flow class defined in the current notebook cell:
    `NBDeployer(MyFlow).step_functions().create()`. The cell's text up to the class is
    written to a file in `base_dir` (default: the working directory), whose directory is
    the code package; the other arguments are Deployer's."""

    def __init__(self, flow: type, show_output: bool = True, profile: str | None = None,
                 env: dict[str, str] | None = None, base_dir: str | None = None,
                 file_read_timeout: int = 3600, **kwargs: Any) -> None:
        self.flow = flow
        self.base_dir = os.path.abspath(base_dir or os.getcwd())
        source = _notebook_source(flow)
        fd, self.name = tempfile.mkstemp(prefix=flow.__name__, suffix=".py", dir=self.base_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        self.deployer = Deployer(self.name, show_output=show_output, profile=profile, env=env,
                                 cwd=self.base_dir, file_read_timeout=file_read_timeout,
                                 flow=flow.__name__, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.deployer, name)

    def cleanup(self) -> None:
        """Remove the flow file written for the deployment."""
        if os.path.exists(self.name):
            os.remove(self.name)


def _notebook_source(flow: type) -> str:
    source = flow_source(flow)
    if source is None:
        raise NBDeployerInitializationError(
            f"cannot find the source of {flow.__name__}: NBDeployer deploys a flow defined in "
            "the current notebook cell, or in a file")
    return source
