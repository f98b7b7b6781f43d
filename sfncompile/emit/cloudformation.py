"""FlowIR + its ASL -> one CloudFormation template (a dict) that deploys the flow.

What is in the stack, and why:
- the state machine (STANDARD: Batch `.sync` runs only there), with the ASL as a JSON object
  and every `${Name}` placeholder mapped in `DefinitionSubstitutions`, so the template embeds
  the very ASL that `build` prints and the golden files pin;
- the Batch job definitions from `jobdef.py`, in CloudFormation's property casing, with their
  environment (datastore root, code package, its sha256) built from stack parameters;
- a least-privilege role each for the state machine, the Batch jobs and (with `@schedule`) the
  schedule, scoped to this flow's job queue(s), job definitions, S3 prefix and state machine;
- with `@schedule`, an EventBridge rule, or an EventBridge Scheduler schedule when the flow
  names a time zone (rules have none);
- the run end recorder (emit/run_end.py): a state machine that writes `_run_end.json` for an
  execution that Step Functions ended, started by a rule on the default bus, with a role each.

Account-specific values (job queue, image, bucket, prefix, code package) are parameters whose
defaults come from the deployment settings when known. The output is deterministic: the same
flow and settings give the same dict, and `render_json` gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sfncompile.conventions.event_format import BUS_ENV
from sfncompile.conventions.project import deployment_env
from sfncompile.conventions.run_keys import RUN_END_RECORD
from sfncompile.emit.cloudformation_events import (
    EVENT_BUS_PARAMETER,
    job_statements,
    trigger_resources,
)
from sfncompile.emit.event_rules import trigger_rules
from sfncompile.emit.jobdef import job_definitions
from sfncompile.emit.names import deployment_name
from sfncompile.emit.render import PLACEHOLDER, map_strings, placeholders, substitute
from sfncompile.emit.run_end import (
    event_pattern,
    recorder_definition,
    recorder_name,
    rule_name,
)
from sfncompile.emit.secrets_policy import secrets_statements
from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR, StepIR

Template = dict[str, Any]

# The managed rule through which Step Functions learns that a `.sync` Batch job finished.
BATCH_SYNC_RULE = "StepFunctionsGetEventsForBatchJobsRule"

# IAM statements whose Resource must be "*", each with AWS's reason. The tests check that these
# are exactly the wildcards in generated templates.
WILDCARD_ACTIONS: dict[str, str] = {
    "batch:DescribeJobs": (
        "DescribeJobs supports no resource-level permissions (the Service Authorization "
        "Reference lists no resource type for it), and the `.sync` integration polls the "
        "job with it"
    ),
}

_PLATFORMS = ("FARGATE", "EC2")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_QUEUE_ARN = r"arn:aws[a-zA-Z-]*:batch:[a-z0-9-]+:[0-9]{12}:job-queue/[A-Za-z0-9_-]{1,128}"
_ROLE_ARN = r"arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+"
MAX_STATE_MACHINE_NAME = 80
MAX_JOB_DEFINITION_NAME = 128

# Stand-ins handed to jobdef.py (which takes plain strings), swapped for intrinsics afterwards.
_IMAGE = "\x00Image"
_JOB_ROLE = "\x00JobRole"
_DATASTORE = "\x00Datastore"
_CODE_PACKAGE = "\x00CodePackage"
_CODE_SHA = "\x00CodeSha"
_EVENT_BUS = "\x00EventBus"
_STAND_INS: dict[str, Any] = {
    _IMAGE: {"Ref": "Image"},
    _JOB_ROLE: {"Fn::GetAtt": ["JobRole", "Arn"]},
    _DATASTORE: {"Fn::Sub": "s3://${S3Bucket}/${S3KeyPrefix}"},
    _CODE_PACKAGE: {"Fn::Sub": "s3://${S3Bucket}/${CodePackageKey}"},
    _CODE_SHA: {"Ref": "CodePackageSha256"},
    _EVENT_BUS: {"Ref": "EventBusName"},
}


@dataclass(frozen=True)
class StackSettings:
    """The deployment settings that the template uses as parameter defaults or names.

    The roles from the settings (sfn_role, job_role, events_role) are not used: the template
    creates its own, scoped to this flow. The region is whichever the stack is created in.
    """

    s3_root: str | None = None
    job_queue: str | None = None
    image: str | None = None
    name_prefix: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    code_package: str | None = None  # s3://bucket/key of the code tarball
    code_sha256: str | None = None
    event_bus: str | None = None
    project: Mapping[str, Any] | None = None  # the resolved @project (runtime.project)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, code_package: str | None = None,
                    code_sha256: str | None = None,
                    project: Mapping[str, Any] | None = None) -> StackSettings:
        """From `Config.values` (sfncompile.deploy.config) plus the code package options."""

        def text(name: str) -> str | None:
            value = values.get(name)
            return str(value) if value else None

        return cls(s3_root=text("s3_root"), job_queue=text("job_queue"), image=text("image"),
                   name_prefix=text("name_prefix") or "",
                   tags={str(k): str(v) for k, v in dict(values.get("tags") or {}).items()},
                   code_package=code_package, code_sha256=code_sha256,
                   event_bus=text("event_bus"), project=project)


def _split_s3(url: str, what: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise UsageError(f"{what} {url!r} must be an s3:// URL")
    bucket, _, key = url[len("s3://"):].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise UsageError(f"{what} {url!r}: {bucket!r} is not a valid S3 bucket name")
    return bucket, key


def _defaults(s: StackSettings) -> dict[str, str]:
    """Parameter defaults from the settings; raises UsageError on malformed values."""
    out: dict[str, str] = {}
    if s.s3_root:
        bucket, prefix = _split_s3(s.s3_root, "s3_root")
        out["S3Bucket"] = bucket
        prefix = prefix.strip("/")
        out["S3KeyPrefix"] = f"{prefix}/" if prefix else ""
    if s.code_package:
        bucket, key = _split_s3(s.code_package, "--code-package")
        if not key or key.endswith("/"):
            raise UsageError(f"--code-package {s.code_package!r}: expected s3://bucket/key")
        if out.setdefault("S3Bucket", bucket) != bucket:
            raise UsageError(
                f"--code-package {s.code_package!r} must be in the s3_root bucket "
                f"{out['S3Bucket']!r}: the stack's roles reach only that bucket"
            )
        out["CodePackageKey"] = key
    if s.code_sha256:
        if not _SHA256.fullmatch(s.code_sha256):
            raise UsageError(f"--code-sha256 {s.code_sha256!r}: expected 64 lowercase hex digits")
        out["CodePackageSha256"] = s.code_sha256
    # The IAM policy needs the queue's ARN; a bare name cannot become one without the account.
    if s.job_queue and re.fullmatch(_QUEUE_ARN, s.job_queue):
        out["JobQueueArn"] = s.job_queue
    if s.image:
        out["Image"] = s.image
    return out


# -- small helpers ----------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _arn(service: str, resource: str, *, regional: bool = True) -> dict[str, str]:
    where = "${AWS::Region}:${AWS::AccountId}" if regional else ":"
    return _sub(f"arn:${{AWS::Partition}}:{service}:{where}:{resource}")


def _statement(sid: str, actions: list[str], resources: Any,
               condition: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions,
                           "Resource": resources}
    if condition:
        out["Condition"] = condition
    return out


def _role(service: str, description: str, statements: list[dict[str, Any]],
          tags: list[dict[str, str]]) -> dict[str, Any]:
    """A role that `service` may assume only on behalf of this account (confused deputy)."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    # Batch runs a job as an ECS task; its role's trust policy is left as AWS Batch documents
    # it, without conditions. Step Functions, EventBridge and Scheduler document SourceAccount.
    if service != "ecs-tasks.amazonaws.com":
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    props: dict[str, Any] = {
        "Description": description,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]},
        "Policies": [{
            "PolicyName": "sfncompile",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        }],
    }
    if tags:
        props["Tags"] = tags
    return {"Type": "AWS::IAM::Role", "Properties": props}


def _cfn_case(obj: Any) -> Any:
    """RegisterJobDefinition arguments (camelCase) -> CloudFormation properties (PascalCase).

    `parameters`, `tags` and log `options` are maps whose keys are data, kept as they are."""
    if isinstance(obj, list):
        return [_cfn_case(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    return {
        k[:1].upper() + k[1:]: (dict(v) if k in ("parameters", "tags", "options") else _cfn_case(v))
        for k, v in obj.items()
    }


def _swap_stand_ins(obj: Any) -> Any:
    if isinstance(obj, str):
        return _STAND_INS.get(obj, obj)
    if isinstance(obj, list):
        return [_swap_stand_ins(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _swap_stand_ins(v) for k, v in obj.items()}
    return obj


def _logical_id(prefix: str, step: str, taken: set[str]) -> str:
    base = prefix + "".join(part[:1].upper() + part[1:] for part in step.split("_"))
    if base in taken:  # `a_b` and `aB` both give `AB`: tell them apart by a stable hash
        base = f"{base}{hashlib.sha256(step.encode()).hexdigest()[:8]}"
    taken.add(base)
    return base


def _needs_ec2(step: StepIR) -> bool:
    """Fargate has no GPUs, shared memory, tmpfs, devices, host volumes, privileged mode or
    multi-node jobs (@parallel): such a job definition is EC2 only."""
    r, b = step.policies.resources, step.policies.batch
    return bool(r.gpu or r.shared_memory or b.use_tmpfs or b.tmpfs_size or b.inferentia
                or b.efa or b.host_volumes or b.privileged or step.policies.parallel)


def _queue_arn(queue: str) -> Any:
    if queue.startswith("arn:"):
        return queue
    # Inside Fn::Sub: a `${` of the user's must stay text (Batch will refuse such a name, but
    # with its own message rather than a template that cannot resolve).
    return _arn("batch", f"job-queue/{queue.replace('${', '${!')}")


# -- the template -----------------------------------------------------------------------------


class _Builder:
    def __init__(self, flow: FlowIR, definition: dict[str, Any], s: StackSettings) -> None:
        self.flow = flow
        self.definition = definition
        self.used = placeholders(definition)
        self.defaults = _defaults(s)
        project = dict(s.project) if s.project else None
        self.name = deployment_name(s.name_prefix, flow.name, project)
        self.project_env = deployment_env(project)
        self.event_bus = s.event_bus
        self.triggers = trigger_rules(flow, self.name, project)
        # The `run failed` state's values (emit/asl.py, run_failed_event_state).
        self.event_values: dict[str, Any] = {
            "EventBus": _ref("EventBusName"),
            "ProjectName": (project or {}).get("name", ""),
            "ProjectBranch": (project or {}).get("branch_name", "")}
        for key, value in s.tags.items():
            if not value or key.lower().startswith("aws:"):
                # Step Functions rejects empty tag values; `aws:` keys are AWS's own.
                raise UsageError(f"tag {key!r}={value!r}: needs a value and a key not starting "
                                 "with 'aws:'")
        self.tags = dict(sorted(s.tags.items()))
        # A queue given by name cannot be a default (the policy needs the ARN): name it at least.
        self.queue_hint = None if "JobQueueArn" in self.defaults else s.job_queue
        self.tag_list = [{"Key": k, "Value": v} for k, v in self.tags.items()]
        self.flow_prefix = f"${{S3KeyPrefix}}{flow.name}/"
        if not _NAME.fullmatch(self.name) or len(self.name) > MAX_STATE_MACHINE_NAME:
            raise UsageError(
                f"state machine name {self.name!r} (name_prefix + flow name) must be at most "
                f"{MAX_STATE_MACHINE_NAME} letters, digits, '-' or '_'"
            )

    # parameters ---------------------------------------------------------------------------

    def parameters(self) -> dict[str, Any]:
        specs: list[tuple[str, dict[str, Any]]] = []
        if "JobQueue" in self.used:
            hint = f" (the settings name {self.queue_hint!r})" if self.queue_hint else ""
            specs.append(("JobQueueArn", {
                "Type": "String",
                "Description": "ARN of the AWS Batch job queue for steps without "
                               f"@batch(queue=){hint}",
                "AllowedPattern": f"^{_QUEUE_ARN}$",
                "ConstraintDescription": "must be a Batch job queue ARN",
            }))
        specs += [
            ("Image", {
                "Type": "String",
                "Description": "Container image with Python 3 and boto3",
                "MinLength": 1,
            }),
            ("S3Bucket", {
                "Type": "String",
                "Description": "Bucket of the datastore and of the code package",
                "AllowedPattern": f"^{_BUCKET.pattern}$",
                "ConstraintDescription": "must be an S3 bucket name",
            }),
            ("S3KeyPrefix", {
                "Type": "String",
                "Description": "Key prefix of the datastore in the bucket: empty, or ending in /",
                "AllowedPattern": "^([^/].*/)?$",
                "ConstraintDescription": "must be empty or end with / (and not start with /)",
            }),
            ("CodePackageKey", {
                "Type": "String",
                "Description": "S3 key of the code package tarball (sfncompile package)",
                "MinLength": 1,
            }),
            ("CodePackageSha256", {
                "Type": "String",
                "Description": "sha256 of the code package, checked before it is extracted",
                "AllowedPattern": "^[0-9a-f]{64}$",
                "ConstraintDescription": "must be 64 lowercase hex digits",
            }),
            ("ComputePlatform", {
                "Type": "String",
                "Description": "Platform of the job queue's compute environment (GPU and "
                               "shared-memory steps always use EC2)",
                "AllowedValues": list(_PLATFORMS),
                "Default": "FARGATE",
            }),
            ("JobExecutionRoleArn", {
                "Type": "String",
                "Description": "Fargate only: the ECS task execution role (image pull, logs)",
                "AllowedPattern": f"^({_ROLE_ARN})?$",
                "Default": "",
            }),
            ("AssignPublicIp", {
                "Type": "String",
                "Description": "Fargate only: ENABLED when the subnets reach the internet "
                               "through an internet gateway rather than a NAT",
                "AllowedValues": ["ENABLED", "DISABLED"],
                "Default": "ENABLED",
            }),
        ]
        if self.flow.schedule is not None:
            specs.append(("ScheduleInput", self.schedule_input()))
        bus = dict(EVENT_BUS_PARAMETER)
        if self.event_bus:
            bus["Default"] = self.event_bus
        specs.append(("EventBusName", bus))
        out: dict[str, Any] = {}
        for name, spec in specs:
            if name in self.defaults:
                spec["Default"] = self.defaults[name]
            out[name] = spec
        return out

    def schedule_input(self) -> dict[str, Any]:
        """The scheduled runs' input: the flow's Parameters, with their defaults."""
        values = {p.name: p.default for p in self.flow.parameters if p.default is not None}
        missing = [p.name for p in self.flow.parameters if p.required and p.default is None]
        spec: dict[str, Any] = {
            "Type": "String",
            "Description": "JSON object of flow Parameters for scheduled runs",
            "MinLength": 2,
        }
        if missing:
            # No default: the stack cannot be created until someone supplies them.
            spec["Description"] += f"; must set the required {', '.join(missing)}"
        else:
            spec["Default"] = json.dumps(values, separators=(",", ":"))
        return spec

    # job definitions ----------------------------------------------------------------------

    def job_definitions(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Placeholder name -> (logical id, resource)."""
        environment = {
            "SFNCOMPILE_DATASTORE_ROOT": _DATASTORE,
            "SFNCOMPILE_CODE_PACKAGE": _CODE_PACKAGE,
            "SFNCOMPILE_CODE_SHA256": _CODE_SHA,
            BUS_ENV: _EVENT_BUS,
            **self.project_env,
        }
        raw = job_definitions(self.flow, name=self.name, image=_IMAGE, job_role=_JOB_ROLE,
                              environment=environment, tags=self.tags)
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        taken: set[str] = set()
        for key, args in raw.items():
            if key not in self.used:
                continue
            step = key.partition("_")[2]
            logical = _logical_id("JobDefinition", step, taken) if step else "JobDefinition"
            name = args["jobDefinitionName"]
            if len(name) > MAX_JOB_DEFINITION_NAME:
                raise UsageError(f"job definition name {name!r} is longer than "
                                 f"{MAX_JOB_DEFINITION_NAME} characters")
            props = _swap_stand_ins(_cfn_case(args))
            ec2_only = bool(step) and _needs_ec2(self.flow.step(step))
            self.fit_platform(props, ec2_only)
            # Keep earlier revisions registered on update: running executions submit the
            # revision their definition was created with.
            props["ResourceRetentionPolicy"] = {"SkipDeregisterOnUpdate": True}
            out[key] = (logical, {"Type": "AWS::Batch::JobDefinition", "Properties": props})
        return out

    def fit_platform(self, props: dict[str, Any], ec2_only: bool) -> None:
        if ec2_only:
            props["PlatformCapabilities"] = ["EC2"]
            return
        no = _ref("AWS::NoValue")
        props["PlatformCapabilities"] = {"Fn::If": ["IsFargate", ["FARGATE"], ["EC2"]]}
        container = props["ContainerProperties"]
        # HasExecutionRole, not IsFargate: the Rules section already demands the role on Fargate,
        # and this way no path resolves the parameter's empty default into an ARN.
        container["ExecutionRoleArn"] = {
            "Fn::If": ["HasExecutionRole", _ref("JobExecutionRoleArn"), no]
        }
        container["NetworkConfiguration"] = {
            "Fn::If": ["IsFargate", {"AssignPublicIp": _ref("AssignPublicIp")}, no]
        }
        container["FargatePlatformConfiguration"] = {
            "Fn::If": ["IsFargate", {"PlatformVersion": "LATEST"}, no]
        }

    # roles --------------------------------------------------------------------------------

    def state_machine_arn(self) -> dict[str, str]:
        # Built from the name, not Ref'd: the role must exist before the state machine.
        return _arn("states", f"stateMachine:{self.name}")

    def state_machine_role(self, jobdefs: dict[str, tuple[str, dict[str, Any]]]) -> Any:
        queues: list[Any] = []
        if "JobQueue" in self.used:
            queues.append(_ref("JobQueueArn"))
        for queue in sorted({s.policies.batch.queue for s in self.flow.steps
                             if s.policies.batch.queue}):
            queues.append(_queue_arn(queue))
        # Every revision of each of this flow's job definitions (see ResourceRetentionPolicy).
        definitions = [
            _arn("batch", f"job-definition/{res['Properties']['JobDefinitionName']}:*")
            for _, res in jobdefs.values()
        ]
        statements = [
            _statement("SubmitJobs", ["batch:SubmitJob"], queues + definitions),
            _statement("WatchJobs", ["batch:DescribeJobs"], "*"),
            # Job ids are random, so no narrower ARN than this account's jobs in this region.
            _statement("StopJobs", ["batch:TerminateJob"], _arn("batch", "job/*")),
            _statement("SyncRule", ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                       _arn("events", f"rule/{BATCH_SYNC_RULE}")),
        ]
        if ":s3:getObject" in json.dumps(self.definition):
            statements.append(_statement(
                "ReadControlObjects", ["s3:GetObject"],
                _arn("s3", f"${{S3Bucket}}/{self.flow_prefix}*", regional=False)))
        if "S3Bucket" in self.used:
            # The execution writes its own run record: at its start and at its failure.
            statements.append(_statement(
                "RecordRuns", ["s3:PutObject"],
                _arn("s3", f"${{S3Bucket}}/{self.flow_prefix}*/_run.json", regional=False)))
        if "EventBus" in self.used:
            statements.append(_statement("PublishRunFailed", ["events:PutEvents"],
                                         _arn("events", "event-bus/${EventBusName}")))
        if any(s.kind == "foreach" and s.policies.foreach.mode == "distributed"
               for s in self.flow.steps):
            statements += [
                _statement("RunMapChildren", ["states:StartExecution"],
                           self.state_machine_arn()),
                # A Map Run's child executions are `execution:<machine>/<map run>:<id>`;
                # redriving the parent redrives the failed children, hence RedriveExecution.
                _statement("ManageMapChildren", ["states:DescribeExecution",
                                                 "states:StopExecution",
                                                 "states:RedriveExecution"],
                           _arn("states", f"execution:{self.name}/*")),
            ]
        return _role("states.amazonaws.com", f"Step Functions role of {self.name}",
                     statements, self.tag_list)

    def job_role(self) -> Any:
        objects = _arn("s3", f"${{S3Bucket}}/{self.flow_prefix}*", regional=False)
        statements = [
            _statement("FlowData", ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                       objects),
            # With ListBucket a missing key is a 404, not a 403; S3 then checks s3:prefix
            # against the key itself.
            _statement("ListFlowData", ["s3:ListBucket"],
                       _arn("s3", "${S3Bucket}", regional=False),
                       {"StringLike": {"s3:prefix": [_sub(f"{self.flow_prefix}*")]}}),
            _statement("CodePackage", ["s3:GetObject"],
                       _arn("s3", "${S3Bucket}/${CodePackageKey}", regional=False)),
            *secrets_statements(self.flow),  # @secrets
            *job_statements(self.flow, _statement, _arn, _sub),
        ]
        return _role("ecs-tasks.amazonaws.com", f"Batch job role of {self.name}", statements,
                     self.tag_list)

    # the run end recorder (emit/run_end.py) ----------------------------------------------

    def run_end(self) -> dict[str, Any]:
        """The recorder, the default bus's rule that starts it, and a role each: the
        recorder may only put `_run_end.json` under this flow's prefix, the rule may only
        start the recorder."""
        recorder: dict[str, Any] = {
            "StateMachineName": recorder_name(self.name),
            "StateMachineType": "STANDARD",
            "RoleArn": {"Fn::GetAtt": ["RunEndRecorderRole", "Arn"]},
            "Definition": recorder_definition(self.flow.name, self.name),
            "DefinitionSubstitutions": {"S3Bucket": _ref("S3Bucket"),
                                        "S3KeyPrefix": _ref("S3KeyPrefix")},
        }
        rule: dict[str, Any] = {
            "Name": rule_name(self.name),
            "Description": f"Records the end of {self.name}'s runs that Step Functions ended",
            # No EventBusName: Step Functions sends its events to the default bus only.
            "EventPattern": event_pattern(_ref("StateMachine")),
            "State": "ENABLED",
            "Targets": [{"Id": "RunEndRecorder", "Arn": _ref("RunEndRecorder"),
                         "RoleArn": {"Fn::GetAtt": ["RunEndRuleRole", "Arn"]}}],
        }
        if self.tag_list:
            recorder["Tags"] = self.tag_list
            rule["Tags"] = self.tag_list
        return {
            "RunEndRecorder": {"Type": "AWS::StepFunctions::StateMachine",
                               "Properties": recorder},
            "RunEndRecorderRole": _role(
                "states.amazonaws.com", f"Records the end of {self.name}'s runs",
                [_statement("RecordRunEnds", ["s3:PutObject"], _arn(
                    "s3", f"${{S3Bucket}}/{self.flow_prefix}*/{RUN_END_RECORD}",
                    regional=False))],
                self.tag_list),
            "RunEndRule": {"Type": "AWS::Events::Rule", "Properties": rule},
            "RunEndRuleRole": _role(
                "events.amazonaws.com", f"Starts the run end recorder of {self.name}",
                [_statement("StartRecorder", ["states:StartExecution"],
                            _ref("RunEndRecorder"))],
                self.tag_list),
        }

    # the schedule -------------------------------------------------------------------------

    def schedule(self) -> dict[str, Any]:
        schedule = self.flow.schedule
        assert schedule is not None
        scheduler = schedule.timezone is not None
        service = "scheduler.amazonaws.com" if scheduler else "events.amazonaws.com"
        role = _role(service, f"Starts executions of {self.name} on its schedule",
                     [_statement("StartFlow", ["states:StartExecution"], _ref("StateMachine"))],
                     self.tag_list)
        target = {
            "Arn": _ref("StateMachine"),
            "RoleArn": {"Fn::GetAtt": ["ScheduleRole", "Arn"]},
            "Input": _ref("ScheduleInput"),
        }
        if scheduler:
            resource: dict[str, Any] = {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Description": f"Runs {self.name}",
                    "ScheduleExpression": schedule.expression,
                    "ScheduleExpressionTimezone": schedule.timezone,
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "State": "ENABLED",
                    "Target": target,
                },
            }
        else:
            props: dict[str, Any] = {
                "Description": f"Runs {self.name}",
                "ScheduleExpression": schedule.expression,
                "State": "ENABLED",
                "Targets": [{"Id": "StateMachine", **target}],
            }
            if self.tag_list:
                props["Tags"] = self.tag_list
            resource = {"Type": "AWS::Events::Rule", "Properties": props}
        return {"ScheduleRole": role, "Schedule": resource}

    # all of it ----------------------------------------------------------------------------

    def template(self) -> Template:
        jobdefs = self.job_definitions()
        substitutions: dict[str, Any] = {}
        for name in self.used:
            if name in jobdefs:
                substitutions[name] = _ref(jobdefs[name][0])
            elif name == "JobQueue":
                substitutions[name] = _ref("JobQueueArn")
            elif name in ("S3Bucket", "S3KeyPrefix"):
                substitutions[name] = _ref(name)
            elif name in self.event_values:
                substitutions[name] = self.event_values[name]
            else:
                raise ValueError(f"no DefinitionSubstitutions value for ${{{name}}}")
        definition, substitutions = _verbatim_user_text(self.definition, substitutions)
        machine: dict[str, Any] = {
            "StateMachineName": self.name,
            "StateMachineType": "STANDARD",
            "RoleArn": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
            "Definition": definition,
            "DefinitionSubstitutions": substitutions,
        }
        if self.tag_list:
            machine["Tags"] = self.tag_list
        resources: dict[str, Any] = {
            "StateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": machine},
            "StateMachineRole": self.state_machine_role(jobdefs),
            "JobRole": self.job_role(),
        }
        for logical, resource in jobdefs.values():
            resources[logical] = resource
        if self.flow.schedule is not None:
            resources.update(self.schedule())
        resources.update(self.run_end())
        resources.update(trigger_resources(self.triggers, self.name, _role, _statement,
                                           self.tag_list))
        outputs: dict[str, Any] = {
            "StateMachineArn": {"Value": _ref("StateMachine")},
            "StateMachineName": {"Value": {"Fn::GetAtt": ["StateMachine", "Name"]}},
            "JobRoleArn": {"Value": {"Fn::GetAtt": ["JobRole", "Arn"]}},
        }
        parameters = self.parameters()
        return {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"{self.flow.name}: AWS Step Functions + AWS Batch, "
                           "generated by sfncompile",
            "Metadata": {"AWS::CloudFormation::Interface": {"ParameterGroups": [
                {"Label": {"default": "Where it runs"},
                 "Parameters": [p for p in ("JobQueueArn", "Image", "ComputePlatform",
                                            "JobExecutionRoleArn", "AssignPublicIp")
                                if p in parameters]},
                {"Label": {"default": "Data and code"},
                 "Parameters": ["S3Bucket", "S3KeyPrefix", "CodePackageKey",
                                "CodePackageSha256"]},
                *([{"Label": {"default": "Schedule"}, "Parameters": ["ScheduleInput"]}]
                  if "ScheduleInput" in parameters else []),
                {"Label": {"default": "Events"}, "Parameters": ["EventBusName"]},
            ]}},
            "Parameters": parameters,
            "Rules": {"FargateNeedsExecutionRole": {
                "RuleCondition": {"Fn::Equals": [_ref("ComputePlatform"), "FARGATE"]},
                "Assertions": [{
                    "Assert": {"Fn::Not": [{"Fn::Equals": [_ref("JobExecutionRoleArn"), ""]}]},
                    "AssertDescription": "Fargate jobs need JobExecutionRoleArn",
                }],
            }},
            "Conditions": {
                "IsFargate": {"Fn::Equals": [_ref("ComputePlatform"), "FARGATE"]},
                "HasExecutionRole": {"Fn::And": [
                    {"Condition": "IsFargate"},
                    {"Fn::Not": [{"Fn::Equals": [_ref("JobExecutionRoleArn"), ""]}]},
                ]},
            },
            "Resources": resources,
            "Outputs": outputs,
        }


def _verbatim_user_text(definition: dict[str, Any], substitutions: dict[str, Any]
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The definition with the user's escaped `${` restored, and substitutions that cannot
    touch them.

    CloudFormation replaces every `${Key}` of DefinitionSubstitutions, repeatedly, and has no
    escape there; text without a key's `${Key}` is left alone. So a placeholder whose name
    the user's text also spells (an environment value "${JobQueue}") is renamed, with a
    suffix that no user text spells either.
    """
    user_text = "\0".join(substitute(PLACEHOLDER.sub("\0", s), {}, unescape=True)
                           for s in _strings(definition))
    keys: dict[str, str] = {}
    for name in substitutions:
        key, n = name, 0
        while f"${{{key}}}" in user_text:
            n += 1
            key = f"{name}_{n}"
        keys[name] = key
    renamed = {name: f"${{{key}}}" for name, key in keys.items()}
    out = map_strings(definition, lambda text: substitute(text, renamed, unescape=True))
    return out, {keys[name]: value for name, value in substitutions.items()}


def _strings(obj: Any) -> list[str]:
    found: list[str] = []

    def keep(text: str) -> str:
        found.append(text)
        return text

    map_strings(obj, keep)
    return found


def cloudformation_template(flow: FlowIR, definition: dict[str, Any],
                            settings: StackSettings | None = None) -> Template:
    """The stack of one flow, from its IR and its compiled (placeholder) ASL."""
    return _Builder(flow, definition, settings or StackSettings()).template()


__all__ = ["WILDCARD_ACTIONS", "StackSettings", "cloudformation_template"]
