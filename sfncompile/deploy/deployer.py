"""`sfncompile deploy`: package, job definitions, state machine, schedule; each step only when
something changed, so deploying twice writes nothing the second time.

`prepare` computes everything from the flow and the settings without touching AWS (which is
also what `--dry-run` prints); `apply` compares with what is deployed and changes the rest.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sfncompile.conventions.bootstrap import GRAPH_IN_PACKAGE
from sfncompile.conventions.event_format import BUS_ENV
from sfncompile.conventions.project import deployment_env
from sfncompile.deploy.aws import AwsClients, find_state_machine, is_not_found
from sfncompile.deploy.capacity import capacity_problems
from sfncompile.deploy.config import MAX_TAGS, Config, split_s3_root
from sfncompile.deploy.machine_options import (
    MachineOptions,
    logging_configuration,
    run_system_tags,
)
from sfncompile.deploy.package import PackageError, entry_size, package_entries, write_package
from sfncompile.deploy.projects import project_tags, resolve_project
from sfncompile.deploy.rules import (
    apply_rules,
    apply_run_end_rule,
    check_upstreams,
    upstream_machines,
)
from sfncompile.emit import compile_asl
from sfncompile.emit.event_rules import RuleSpec, trigger_rules
from sfncompile.emit.jobdef import Fargate, fargate_problems, job_definitions
from sfncompile.emit.limits import (
    MAX_MACHINE_NAME,
    MAX_RULE_NAME,
    check_definition_size,
    check_name,
)
from sfncompile.emit.names import deployment_name
from sfncompile.emit.render import render_compact, resolve
from sfncompile.emit.run_end import (
    RECORDED_STATUSES,
    event_pattern,
    recorder_definition,
    recorder_name,
)
from sfncompile.emit.run_end import rule_name as run_end_rule
from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR
from sfncompile.parser.schedule import ScheduleError, validate_schedule

TARGET_ID = "sfncompile"
# Every job definition that deploy registers carries this tag, whose value is the state
# machine's name: `delete` finds them by it, never by a name prefix (Team-Flow is not Team's).
OWNER_TAG = "sfncompile:state-machine"
_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class Schedule:
    expression: str | None  # None: no schedule
    timezone: str | None = None
    enabled: bool = True


@dataclass
class Target:
    flow: FlowIR
    config: Config
    machine_name: str
    bucket: str
    key_prefix: str  # "" or "prefix/"
    package_path: Path
    package_sha: str
    package_key: str
    job_definitions: dict[str, dict[str, Any]]
    definition: dict[str, Any]  # unresolved ASL
    schedule: Schedule
    schedule_input: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    package_files: dict[str, int] = field(default_factory=dict)  # archive name -> bytes
    project: dict[str, Any] | None = None  # the resolved @project (runtime.project)
    triggers: list[RuleSpec] = field(default_factory=list)
    event_bus: str = "default"
    upstreams: dict[str, str] = field(default_factory=dict)  # @trigger_on_finish machines
    logging: dict[str, Any] = field(default_factory=lambda: logging_configuration(None))
    include_defaults: dict[str, Path] = field(default_factory=dict)  # sha256 -> default file

    @property
    def rule_name(self) -> str:
        return rule_name(self.machine_name)

    @property
    def package_url(self) -> str:
        return f"s3://{self.bucket}/{self.package_key}"

    def substitutions(self, job_definition_arns: dict[str, str]) -> dict[str, str]:
        project = self.project or {}
        return {"JobQueue": str(self.config.get("job_queue")), "S3Bucket": self.bucket,
                "S3KeyPrefix": self.key_prefix, "EventBus": self.event_bus,
                "ProjectName": str(project.get("name", "")),
                "ProjectBranch": str(project.get("branch_name", "")), **job_definition_arns}

    def resolved(self, job_definition_arns: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = resolve(self.definition, self.substitutions(job_definition_arns),
                                      strict=False)
        return out


def rule_name(machine_name: str) -> str:
    """The schedule's name (EventBridge rule or Scheduler schedule): the state machine's, with
    a hash of the full name when it is too long, so that two long names never share one."""
    if len(machine_name) <= MAX_RULE_NAME:
        return machine_name
    digest = hashlib.sha256(machine_name.encode()).hexdigest()[:8]
    return f"{machine_name[:MAX_RULE_NAME - 9]}-{digest}"


def check_timezone(name: str, where: str) -> str:
    """An IANA time zone that EventBridge Scheduler knows, checked with zoneinfo (when this
    machine has a time zone database to check against)."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if zoneinfo.available_timezones():
            raise UsageError(f"{where} {name!r} is not an IANA time zone (such as Europe/Paris "
                             "or America/New_York)") from None
    return name


def parse_schedule(option: str | None, flow: FlowIR, timezone: str | None) -> Schedule:
    """`--schedule` wins over `@schedule`; 'none' removes it and 'disable' keeps it disabled."""
    if timezone is not None:
        check_timezone(timezone, "--timezone")
        word = (option or "").strip().lower()
        if word == "none" or (option is None and flow.schedule is None):
            raise UsageError("--timezone: there is no schedule to apply it to (give --schedule)")
    elif flow.schedule is not None and flow.schedule.timezone:
        check_timezone(flow.schedule.timezone, "@schedule(timezone=...)")
    if option is None:
        if flow.schedule is None:
            return Schedule(None)
        return Schedule(flow.schedule.expression, timezone or flow.schedule.timezone)
    word = option.strip().lower()
    if word == "none":
        return Schedule(None)
    if word == "disable":
        if flow.schedule is None:
            raise UsageError("--schedule disable: the flow has no @schedule; give the "
                             "expression to disable, or use --schedule none to remove it")
        return Schedule(flow.schedule.expression, timezone or flow.schedule.timezone, False)
    try:
        return Schedule(validate_schedule(option), timezone)
    except ScheduleError as exc:
        raise UsageError(f"--schedule: {exc}") from None


def prepare(flow: FlowIR, flow_file: Path, config: Config, *, name: str | None,
            schedule: Schedule, workdir: Path, branch: str | None = None,
            production: bool = False, options: MachineOptions | None = None,
            log_execution_history: bool = False) -> Target:
    """Everything deploy needs, computed locally (no AWS call)."""
    options = (options or MachineOptions()).check()
    flow = options.flow(flow)
    if log_execution_history:
        config.require("log_group")
    logging = logging_configuration(config.get("log_group") if log_execution_history else None)
    fargate = config.get("platform") == "FARGATE"
    project = resolve_project(flow, branch, production)
    options = replace(options, system_tags=run_system_tags(project))
    triggered = bool(flow.triggers or flow.finish_triggers)
    config.require(*(["events_role"] if schedule.expression or triggered else []),
                   *(["execution_role"] if fargate else []))
    if fargate and (problems := fargate_problems(flow)):
        raise UsageError(f"platform FARGATE: {'; '.join(problems)}, which Fargate does not "
                         "offer; deploy to an EC2 job queue (platform = EC2)")
    machine_name = check_name(
        "state machine", name or deployment_name(config.name_prefix, flow.name, project),
        MAX_MACHINE_NAME)
    if not _NAME.fullmatch(machine_name):
        raise UsageError(f"state machine name {machine_name!r}: use letters, digits, - and _")
    bucket, key_prefix = split_s3_root(str(config.get("s3_root")))
    graph_json = flow.graph_json()
    include_defaults = _include_defaults(graph_json, flow_file.parent)
    graph = json.dumps(graph_json, sort_keys=True).encode()
    package_path = workdir / "code.tar.gz"
    try:
        entries = package_entries(flow_file.parent, extra={GRAPH_IN_PACKAGE: graph})
        sha = write_package(entries, package_path)
    except PackageError as exc:
        raise UsageError(f"code package: {exc}") from None
    package_key = f"{key_prefix}{flow.name}/code/{sha}.tar.gz"
    env = {"SFNCOMPILE_DATASTORE_ROOT": str(config.get("s3_root")).rstrip("/"),
           "SFNCOMPILE_CODE_PACKAGE": f"s3://{bucket}/{package_key}",
           "SFNCOMPILE_CODE_SHA256": sha, "PYTHONUNBUFFERED": "1",
           BUS_ENV: event_bus(config), **deployment_env(project)}
    tags = {**config.tags, **project_tags(project)}
    if len(tags) > MAX_TAGS:  # AWS takes 50, one of which is the owner tag
        raise UsageError(f"{len(config.tags)} tags and the project's 2: at most {MAX_TAGS} "
                         "in all (AWS takes 50 per resource, one is sfncompile's owner tag)")
    env.update(deployment_environment(tags))
    definitions = job_definitions(
        flow, name=machine_name, image=str(config.get("image")), job_role=config.get("job_role"),
        environment=env, tags={**tags, OWNER_TAG: machine_name},
        fargate=Fargate(str(config.get("execution_role"))) if fargate else None)
    missing = [p.name for p in flow.parameters if p.required and p.default is None]
    if schedule.expression and missing:
        raise UsageError(f"a scheduled run cannot be given the required parameter(s) "
                         f"{', '.join(missing)}: give them defaults, or deploy with "
                         "--schedule none")
    return Target(
        flow=flow, config=config, machine_name=machine_name, bucket=bucket,
        key_prefix=key_prefix, package_path=package_path, package_sha=sha,
        package_key=package_key, job_definitions=definitions,
        definition=options.definition(compile_asl(flow)),
        schedule=schedule,
        # IncludeFile defaults are stored in the datastore (include_defaults), Config
        # values read by the start task from the code package.
        schedule_input={p.name: p.default for p in flow.parameters
                        if p.default is not None and p.kind == "parameter"},
        tags=tags, package_files={name: entry_size(src) for name, src in entries.items()},
        project=project, triggers=trigger_rules(flow, machine_name, project),
        event_bus=event_bus(config),
        upstreams=upstream_machines(flow, config.name_prefix, project), logging=logging,
        include_defaults=include_defaults,
    )


def _include_defaults(graph: dict[str, Any], flow_dir: Path) -> dict[str, Path]:
    """Each IncludeFile default file, by sha256, to store in the runs' datastore; the step
    graph's parameter gets its reference (`default_ref`), which the start task reads."""
    from sfncompile.runtime.run_inputs import default_files

    try:
        found = default_files(graph["parameters"], flow_dir)
    except OSError as exc:
        raise UsageError(f"IncludeFile default: cannot read {exc.filename}: "
                         f"{exc.strerror or exc}") from None
    for p in graph["parameters"]:
        if p["name"] in found:
            p["default_ref"] = found[p["name"]][1]
    return {str(ref["sha256"]): path for path, ref in found.values()}


def deployment_environment(tags: dict[str, str]) -> dict[str, str]:
    """Who deploys, and the deploy's tags, for every task's metadata (sfncompile.runtime.where):
    a run on Step Functions then says who deployed it without any AWS call."""
    import getpass

    from sfncompile.runtime.where import DEPLOY_TAGS_ENV, DEPLOYED_BY_ENV

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = "unknown"
    env = {DEPLOYED_BY_ENV: user}
    if tags:
        env[DEPLOY_TAGS_ENV] = json.dumps(tags, sort_keys=True, separators=(",", ":"))
    return env


def event_bus(config: Config) -> str:
    return str(config.get("event_bus") or "default")


def plan(target: Target) -> list[str]:
    """The calls a first deploy makes, for --dry-run (no AWS call is made to find out)."""
    calls = [f"s3:PutObject s3://{target.bucket}/{target.package_key} "
             f"(the code package, sha256 {target.package_sha}; skipped when present)"]
    for sha, path in sorted(target.include_defaults.items()):
        root = str(target.config.get("s3_root")).rstrip("/")
        calls.append(f"s3:PutObject {root}/{target.flow.name}/data/{sha[:2]}/{sha} "
                     f"(IncludeFile default {path.name}; skipped when present)")
    for key, d in target.job_definitions.items():
        calls.append(f"batch:RegisterJobDefinition {d['jobDefinitionName']} (${{{key}}}; "
                     "skipped when unchanged)")
    logging = target.logging.get("destinations")
    calls.append(f"states:CreateStateMachine {target.machine_name} (or UpdateStateMachine; "
                 "publishes a version)" + (f"; execution history logged to "
                                           f"{logging[0]['cloudWatchLogsLogGroup']['logGroupArn']}"
                                           if logging else ""))
    s = target.schedule
    if s.expression is None:
        calls.append(f"events:RemoveTargets + DeleteRule {target.rule_name} (if it exists)")
    elif s.timezone:
        calls.append(f"scheduler:CreateSchedule {target.rule_name} {s.expression} "
                     f"in {s.timezone} (or UpdateSchedule)")
    else:
        state = "ENABLED" if s.enabled else "DISABLED"
        calls.append(f"events:PutRule {target.rule_name} {s.expression} {state}")
        calls.append(f"events:PutTargets {target.rule_name} -> {target.machine_name} "
                     f"input {json.dumps(target.schedule_input, sort_keys=True)}")
    if target.config.get("events_role"):
        calls.append(f"states:CreateStateMachine {recorder_name(target.machine_name)} (the run "
                     "end recorder; or UpdateStateMachine)")
        calls.append(f"events:PutRule {run_end_rule(target.machine_name)} on bus default "
                     f"(Step Functions ends an execution: {', '.join(RECORDED_STATUSES)})")
        calls.append(f"events:PutTargets {run_end_rule(target.machine_name)} -> "
                     f"{recorder_name(target.machine_name)}")
    for spec in target.triggers:
        calls.append(f"events:PutRule {spec.name} on bus {target.event_bus} "
                     f"{json.dumps(spec.pattern, sort_keys=True)}")
        calls.append(f"events:PutTargets {spec.name} -> {target.machine_name} "
                     f"template {spec.input_template}")
    return calls


Progress = Callable[[str], None]


class Deployer:
    def __init__(self, target: Target, clients: AwsClients, say: Progress) -> None:
        self.t = target
        self.aws = clients
        self.say = say
        self.changed: list[str] = []

    def _tags(self, style: str) -> Any:
        if style == "list":
            return [{"key": k, "value": v} for k, v in sorted(self.t.tags.items())]
        if style == "List":
            return [{"Key": k, "Value": v} for k, v in sorted(self.t.tags.items())]
        return dict(self.t.tags)

    def run(self) -> str:
        check_upstreams(self.aws, self.t.machine_name, self.t.upstreams)  # before any change
        problems = capacity_problems(self.t.flow, str(self.t.config.get("job_queue")),
                                     self.aws.batch)
        if problems:
            raise UsageError("\n  ".join(["the job queues cannot run every step:", *problems]))
        found = {d["jobDefinitionName"]: self.active_revisions(d["jobDefinitionName"])
                 for d in self.t.job_definitions.values()}
        self.upload_package()
        self.store_include_defaults()
        arns = {key: self.job_definition(d, found[d["jobDefinitionName"]])
                for key, d in self.t.job_definitions.items()}
        # Compact, as Step Functions counts the definition's bytes; build checked the size
        # with the longest values AWS allows, this checks it with the actual ones.
        definition = render_compact(self.t.resolved(arns))
        check_definition_size(definition)
        machine_arn = self.state_machine(definition)
        self.schedule(machine_arn)
        self.run_end(machine_arn)
        apply_rules(self.aws, self.t.triggers, machine=self.t.machine_name,
                    machine_arn=machine_arn, role=str(self.t.config.get("events_role")),
                    bus=self.t.event_bus, tags=self.t.tags, owner_tag=OWNER_TAG, say=self.say,
                    changed=self.changed)
        return machine_arn

    def upload_package(self) -> None:
        t = self.t
        try:
            self.aws.s3.head_object(Bucket=t.bucket, Key=t.package_key)
            self.say(f"code package    unchanged  {t.package_url}")
            return
        except ClientError as exc:
            if not is_not_found(exc):
                raise
        self.aws.s3.upload_file(str(t.package_path), t.bucket, t.package_key)
        self.changed.append("code package")
        self.say(f"code package    uploaded   {t.package_url}")

    def store_include_defaults(self) -> None:
        """The IncludeFile default files, in the runs' datastore (as a run's IncludeFile)."""
        from sfncompile.datastore import layout as ds
        from sfncompile.datastore.storage import open_storage

        if not self.t.include_defaults:
            return
        storage = open_storage(str(self.t.config.get("s3_root")).rstrip("/"))
        for sha, path in sorted(self.t.include_defaults.items()):
            url = storage.url(ds.blob_key(self.t.flow.name, sha))
            if storage.exists(ds.blob_key(self.t.flow.name, sha)):
                self.say(f"include file    unchanged  {url}")
                continue
            try:
                ds.save_file(storage, self.t.flow.name, path)
            except OSError as exc:
                raise UsageError(f"IncludeFile default {path}: cannot read it: "
                                 f"{exc.strerror or exc}") from None
            self.changed.append(f"IncludeFile default {path.name}")
            self.say(f"include file    uploaded   {url}")

    def active_revisions(self, name: str) -> list[dict[str, Any]]:
        """The job definition's active revisions; an error, before anything changes, when
        another state machine owns the name: `<machine>-<step>` of one deployment can be the
        `<machine>` of another (`A-B` with a step `train`, and `A-B-train`)."""
        found = self.aws.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
        revisions: list[dict[str, Any]] = found.get("jobDefinitions", [])
        owners = {(d.get("tags") or {}).get(OWNER_TAG) for d in revisions}
        others = sorted(o for o in owners if o and o != self.t.machine_name)
        if others:
            raise UsageError(f"the job definition {name} belongs to the state machine "
                             f"{others[0]}: deploy this flow under another --name")
        return revisions

    def job_definition(self, wanted: dict[str, Any], revisions: list[dict[str, Any]]) -> str:
        name = wanted["jobDefinitionName"]
        latest = max(revisions, key=lambda d: d["revision"], default=None)
        if latest is not None and _same_job_definition(latest, wanted):
            self.say(f"job definition unchanged  {name}:{latest['revision']}")
            arn: str = latest["jobDefinitionArn"]
            return arn
        registered = self.aws.batch.register_job_definition(**wanted)
        self.changed.append(f"job definition {name}")
        self.say(f"job definition registered {name}:{registered['revision']}")
        arn = registered["jobDefinitionArn"]
        return arn

    def state_machine(self, definition: str, name: str | None = None,
                      what: str = "state machine  ") -> str:
        """Create or update the flow's state machine (or, named, the run end recorder,
        which logs nothing)."""
        t = self.t
        name = name or t.machine_name
        logging = t.logging if name == t.machine_name else logging_configuration(None)
        role = str(t.config.get("sfn_role"))
        arn = find_state_machine(self.aws, name)
        if arn is None:
            created = self.aws.sfn.create_state_machine(
                name=name, definition=definition, roleArn=role, type="STANDARD",
                tags=[{"key": k, "value": v} for k, v in sorted(t.tags.items())], publish=True,
                loggingConfiguration=logging)
            self.changed.append(what.strip())
            self.say(f"{what} created    {name}")
            new_arn: str = created["stateMachineArn"]
            return new_arn
        current = self.aws.sfn.describe_state_machine(stateMachineArn=arn)
        if json.loads(current["definition"]) == json.loads(definition) and \
                current["roleArn"] == role and _same_logging(current, logging):
            self.say(f"{what} unchanged  {name}")
            return arn
        self.aws.sfn.update_state_machine(stateMachineArn=arn, definition=definition,
                                          roleArn=role, publish=True,
                                          loggingConfiguration=logging)
        self.changed.append(what.strip())
        self.say(f"{what} updated    {name} (new version published)")
        return arn

    def run_end(self, machine_arn: str) -> None:
        """The run end recorder (emit/run_end.py), run by `sfn_role`, and its rule on the
        default bus, which starts it through `events_role`; without that role, neither."""
        t = self.t
        role = t.config.get("events_role")
        if not role:
            self.say("run end rule    skipped    (no events_role: a run that Step Functions "
                     "aborts or times out will read as running)")
            return
        definition = resolve(recorder_definition(t.flow.name, t.machine_name),
                             {"S3Bucket": t.bucket, "S3KeyPrefix": t.key_prefix})
        recorder = self.state_machine(render_compact(definition), recorder_name(t.machine_name),
                                      "run end recorder")
        apply_run_end_rule(self.aws, rule_name=run_end_rule(t.machine_name),
                           pattern=event_pattern(machine_arn), recorder_arn=recorder,
                           role=str(role), tags=t.tags, say=self.say, changed=self.changed)

    def schedule(self, machine_arn: str) -> None:
        s = self.t.schedule
        if s.expression is None or s.timezone:
            self.remove_rule()
        if s.expression is None or not s.timezone:
            self.remove_scheduler_schedule()
        if s.expression is None:
            return
        if s.timezone:
            self.scheduler_schedule(machine_arn)
        else:
            self.rule(machine_arn)

    def rule(self, machine_arn: str) -> None:
        t, s = self.t, self.t.schedule
        name = t.rule_name
        state = "ENABLED" if s.enabled else "DISABLED"
        try:
            current = self.aws.events.describe_rule(Name=name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            current = None
        if current is None or current.get("ScheduleExpression") != s.expression or \
                current.get("State") != state:
            self.aws.events.put_rule(Name=name, ScheduleExpression=s.expression, State=state,
                                     Description=f"Runs {t.machine_name} (sfncompile)",
                                     Tags=self._tags("List"))
            self.changed.append("schedule rule")
            self.say(f"schedule rule   {'created' if current is None else 'updated':<10} "
                     f"{name} {s.expression} {state}")
        else:
            self.say(f"schedule rule   unchanged  {name} {s.expression} {state}")
        wanted = {"Id": TARGET_ID, "Arn": machine_arn, "RoleArn": str(t.config.get("events_role")),
                  "Input": json.dumps(t.schedule_input, sort_keys=True)}
        targets = self.aws.events.list_targets_by_rule(Rule=name).get("Targets", [])
        if [{k: x.get(k) for k in wanted} for x in targets] != [wanted]:
            stale = [x["Id"] for x in targets if x["Id"] != TARGET_ID]
            if stale:
                self.aws.events.remove_targets(Rule=name, Ids=stale)
            self.aws.events.put_targets(Rule=name, Targets=[wanted])
            self.changed.append("schedule target")
            self.say(f"schedule target set        {name} -> {t.machine_name}")

    def remove_rule(self) -> None:
        name = self.t.rule_name
        try:
            self.aws.events.describe_rule(Name=name)
        except ClientError as exc:
            if is_not_found(exc):
                return
            raise
        ids = [x["Id"] for x in self.aws.events.list_targets_by_rule(Rule=name).get("Targets", [])]
        if ids:
            self.aws.events.remove_targets(Rule=name, Ids=ids)
        self.aws.events.delete_rule(Name=name)
        self.changed.append("schedule rule removed")
        self.say(f"schedule rule   removed    {name}")

    def scheduler_schedule(self, machine_arn: str) -> None:
        t, s = self.t, self.t.schedule
        target = {"Arn": machine_arn, "RoleArn": str(t.config.get("events_role")),
                  "Input": json.dumps(t.schedule_input, sort_keys=True)}
        wanted: dict[str, Any] = {
            "Name": t.rule_name,
            "ScheduleExpression": s.expression,
            "ScheduleExpressionTimezone": s.timezone,
            "State": "ENABLED" if s.enabled else "DISABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": target,
        }
        try:
            current = self.aws.scheduler.get_schedule(Name=t.rule_name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            current = None
        same = current is not None and all(
            current.get(k) == v for k, v in wanted.items() if k != "Target"
        ) and {k: current["Target"].get(k) for k in target} == target
        if same:
            self.say(f"schedule        unchanged  {t.rule_name} {s.expression} {s.timezone}")
            return
        if current is None:
            self.aws.scheduler.create_schedule(**wanted)
        else:
            self.aws.scheduler.update_schedule(**wanted)
        self.changed.append("schedule")
        self.say(f"schedule        {'created' if current is None else 'updated':<10} "
                 f"{t.rule_name} {s.expression} {s.timezone} (EventBridge Scheduler)")

    def remove_scheduler_schedule(self) -> None:
        try:
            self.aws.scheduler.get_schedule(Name=self.t.rule_name)
        except ClientError as exc:
            if is_not_found(exc):
                return
            raise
        self.aws.scheduler.delete_schedule(Name=self.t.rule_name)
        self.changed.append("schedule removed")
        self.say(f"schedule        removed    {self.t.rule_name}")


def _same_logging(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether the deployed logging configuration is the wanted one (AWS leaves out what is
    off or empty)."""
    have = current.get("loggingConfiguration") or {}
    return (have.get("level", "OFF"), bool(have.get("includeExecutionData")),
            have.get("destinations") or []) == (wanted["level"],
                                                wanted["includeExecutionData"],
                                                wanted.get("destinations") or [])


def _same_job_definition(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def norm(d: dict[str, Any]) -> dict[str, Any]:
        nodes = d.get("nodeProperties") or {}  # a @parallel step's: every node's container
        ranges = nodes.get("nodeRangeProperties") or [{}]
        c = d.get("containerProperties") or ranges[0].get("container", {})
        return {
            "type": d.get("type") or "container",
            "nodes": [nodes.get("numNodes"), nodes.get("mainNode"),
                      [r.get("targetNodes") for r in ranges]],
            "image": c.get("image"),
            "command": c.get("command"),
            "jobRoleArn": c.get("jobRoleArn"),
            "environment": sorted((e["name"], e["value"]) for e in c.get("environment", [])),
            "resources": sorted((r["type"], r["value"])
                                for r in c.get("resourceRequirements", [])),
            "shm": (c.get("linuxParameters") or {}).get("sharedMemorySize"),
            "platform": d.get("platformCapabilities") or ["EC2"],
            "executionRoleArn": c.get("executionRoleArn"),
            "network": c.get("networkConfiguration"),
            "parameters": d.get("parameters") or {},
            "tags": d.get("tags") or {},
        }

    return norm(current) == norm(wanted)


def deploy(target: Target, clients: AwsClients, say: Progress) -> tuple[str, list[str]]:
    deployer = Deployer(target, clients, say)
    arn = deployer.run()
    return arn, deployer.changed


def workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="sfncompile-deploy-")
