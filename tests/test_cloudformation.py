"""`sfncompile build --format cloudformation`, checked by cfn-lint and by IAM rules of our own.

cfn-lint runs once, as a subprocess, on every template of this module (the generated ones and
templates/infra.yaml), because its start-up dominates the cost. Errors and warnings both fail
the tests: cfn-lint's warnings are deployment problems in waiting (a value that cannot match
the ARN pattern it feeds, a retained resource without UpdateReplacePolicy, an unused
parameter), and every template here is free of them, so a new one is a regression to read. An
accepted warning would be ignored by rule id in IGNORED_RULES, with its reason. Informational
findings (I-rules) do not fail; today there are none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfncompile.emit.cloudformation import WILDCARD_ACTIONS
from sfncompile.emit.render import placeholders
from tests.conftest import GOLDEN, ROOT

TEMPLATES = ROOT / "templates"
INFRA = TEMPLATES / "infra.yaml"

# Flows built with every setting given; `bare` builds get no settings (no parameter defaults).
FLOWS = ["decorators", "foreach_distributed", "split", "switch", "loop", "foreach_nested",
         "triggered", "project", "parallel"]
BARE = ["decorators", "switch"]

QUEUE = "arn:aws:batch:eu-west-1:123456789012:job-queue/sfncompile"
CODE_SHA = "ab" * 32
SETTINGS = [
    "--s3-root", "s3://team-bucket/runs",
    "--job-queue", QUEUE,
    "--image", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sfncompile:latest",
    "--name-prefix", "ml-",
    "--tags", "team=ml,env=dev",
    "--code-package", "s3://team-bucket/runs/code/" + CODE_SHA + ".tar.gz",
    "--code-sha256", CODE_SHA,
]

# Resource "*" in infra.yaml, with AWS's reason. (The flow templates' list is WILDCARD_ACTIONS.)
_LOG_DELIVERY = "CloudWatch Logs' log delivery for Step Functions takes only Resource '*'"
INFRA_WILDCARDS = {
    "ecr:GetAuthorizationToken": "GetAuthorizationToken supports no resource-level permissions",
    **{f"logs:{action}": _LOG_DELIVERY for action in (
        "CreateLogDelivery", "GetLogDelivery", "UpdateLogDelivery", "DeleteLogDelivery",
        "ListLogDeliveries", "PutResourcePolicy", "DescribeResourcePolicies",
        "DescribeLogGroups")},
    **WILDCARD_ACTIONS,
}
IGNORED_RULES: dict[str, str] = {}


def clean_env() -> dict[str, str]:
    """Settings must come from the flags only, not from the environment of whoever runs pytest."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SFNCOMPILE_")}


def sfncompile(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                          text=True, env=clean_env())


def timezone_flow(directory: Path) -> Path:
    """The decorators flow, scheduled in a time zone: EventBridge Scheduler, not a rule."""
    source = (GOLDEN / "decorators" / "flow.py").read_text()
    plain = '@schedule(cron="0 6 * * ? *")'
    assert plain in source
    path = directory / "tz_flow.py"
    path.write_text(source.replace(plain, '@schedule(cron="0 6 * * ? *", timezone="Europe/Paris")'))
    return path


DOLLAR_FLOW = '''
from sfncompile import FlowSpec, environment, step


class DollarFlow(FlowSpec):
    @environment(vars={"X": "${JobQueue}", "Y": "${Secret}", "Z": "${!S3Bucket}"})
    @step
    def start(self):
        self.choice = "${Secret}"
        self.next({"${Secret}": self.a, "${JobQueue_1}": self.b}, condition="choice")

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
DOLLAR_TEXT = {"${JobQueue}", "${Secret}", "${!S3Bucket}", "${JobQueue_1}"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Name -> template file, every one built through the command line."""
    out = tmp_path_factory.mktemp("cfn")
    jobs: dict[str, list[str]] = {}
    for name in FLOWS:
        jobs[name] = [str(GOLDEN / name / "flow.py"), *SETTINGS]
    for name in BARE:
        jobs[f"{name}-bare"] = [str(GOLDEN / name / "flow.py")]
    jobs["timezone"] = [str(timezone_flow(out)), *SETTINGS]
    (out / "dollar_flow.py").write_text(DOLLAR_FLOW)
    jobs["dollar"] = [str(out / "dollar_flow.py"), *SETTINGS]
    jobs["secrets"] = [str(Path(__file__).parent / "data" / "flows" / "services.py"), *SETTINGS]
    files = {name: out / f"{name}.json" for name in jobs}
    # In parallel: each is a fresh interpreter, and start-up is most of its time.
    running = {
        name: subprocess.Popen([sys.executable, "-m", "sfncompile", "build", *args, "--format",
                                "cloudformation", "-o", str(files[name])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=clean_env())
        for name, args in jobs.items()
    }
    for name, proc in running.items():
        _, stderr = proc.communicate()
        assert proc.returncode == 0, f"{name}: {stderr}"
    return files


@pytest.fixture(scope="module")
def lint(built: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    """cfn-lint's findings by file name, from a single run over every template."""
    exe = shutil.which("cfn-lint")
    command = [exe] if exe else [sys.executable, "-m", "cfnlint"]
    files = [*built.values(), INFRA]
    proc = subprocess.run([*command, "--format", "json", *map(str, files)],
                          capture_output=True, text=True)
    # Exit status is a bitmask: 2 errors, 4 warnings, 8 informational; 1 is a crash.
    assert proc.returncode & 1 == 0 and proc.stdout.strip(), proc.stderr
    findings: dict[str, list[dict[str, Any]]] = {str(f): [] for f in files}
    for match in json.loads(proc.stdout):
        findings.setdefault(match["Filename"], []).append(match)
    return findings


def load(path: Path) -> dict[str, Any]:
    if path.suffix == ".json":
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    # cfn-lint's reader understands the YAML short forms (!Ref, !Sub, ...).
    from cfnlint.decode import decode  # type: ignore[import-untyped]

    template, problems = decode(str(path))
    assert not problems and template is not None, problems
    return dict(template)


def unrolled(section: dict[str, Any]) -> dict[str, Any]:
    """A template section with each Fn::ForEach's fragment in place of the loop (its logical
    ids keep the placeholder, e.g. `JobRole${Flow}`)."""
    out: dict[str, Any] = {}
    for key, value in section.items():
        out.update(unrolled(value[2]) if key.startswith("Fn::ForEach::") else {key: value})
    return out


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) for every IAM statement in the template's policies."""
    for logical, resource in unrolled(template["Resources"]).items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield logical, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_actions(template: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for _, statement in statements(template):
        if "*" in as_list(statement["Resource"]):
            assert statement["Effect"] == "Allow"
            found.update(as_list(statement["Action"]))
    return found


# -- cfn-lint -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*FLOWS, *(f"{n}-bare" for n in BARE), "timezone", "dollar",
                                  "secrets", "infra"])
def test_cfn_lint_passes(name: str, built: dict[str, Path],
                         lint: dict[str, list[dict[str, Any]]]) -> None:
    path = INFRA if name == "infra" else built[name]
    problems = [
        f"{m['Rule']['Id']} {m['Message']} at {m['Location']['Path']}"
        for m in lint[str(path)]
        if m["Level"] in ("Error", "Warning") and m["Rule"]["Id"] not in IGNORED_RULES
    ]
    assert not problems, "\n".join(problems)


# -- least privilege ----------------------------------------------------------------------------


def test_wildcard_resources_are_exactly_the_listed_exceptions(built: dict[str, Path]) -> None:
    seen: set[str] = set()
    for name, path in built.items():
        found = wildcard_actions(load(path))
        assert found <= set(WILDCARD_ACTIONS), f"{name}: unexpected Resource '*' for {found}"
        seen |= found
    # The list holds no stale entry either: every exception shows up.
    assert seen == set(WILDCARD_ACTIONS)
    assert wildcard_actions(load(INFRA)) == set(INFRA_WILDCARDS)


def test_no_wildcard_actions(built: dict[str, Path]) -> None:
    for path in [*built.values(), INFRA]:
        for logical, statement in statements(load(path)):
            if statement["Effect"] != "Allow":
                continue  # infra.yaml's TLS-only bucket policy denies s3:*
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{path.name} {logical}: {action}"


def role_statements(template: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for logical, s in statements(template) if logical == role}


def test_job_role_reads_exactly_the_flows_secrets(built: dict[str, Path]) -> None:
    job = role_statements(load(built["secrets"]), "JobRole")
    assert job["ReadSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert [r["Fn::Sub"] for r in job["ReadSecrets"]["Resource"]] == [
        f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:"
        f"{name}-??????" for name in ("sfn-test-app", "sfn-test-token")]
    assert "ReadSecrets" not in role_statements(load(built["split"]), "JobRole")


def test_state_machine_role_is_scoped(built: dict[str, Path]) -> None:
    t = load(built["decorators"])
    sm = role_statements(t, "StateMachineRole")
    assert sorted(sm) == ["PublishRunFailed", "RecordRuns", "StopJobs", "SubmitJobs", "SyncRule",
                          "WatchJobs"]
    # The execution writes its own run record, and nothing else of the flow's data.
    assert sm["RecordRuns"] == {
        "Sid": "RecordRuns", "Effect": "Allow", "Action": ["s3:PutObject"],
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}/"
                                "${S3KeyPrefix}DecoratedFlow/*/_run.json"}}
    arn = "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}"
    assert sm["SubmitJobs"]["Resource"] == [
        {"Ref": "JobQueueArn"},
        {"Fn::Sub": f"{arn}:job-queue/gpu-queue"},  # @batch(queue="gpu-queue")
        {"Fn::Sub": f"{arn}:job-definition/ml-DecoratedFlow:*"},
        {"Fn::Sub": f"{arn}:job-definition/ml-DecoratedFlow-train:*"},
    ]
    assert sm["StopJobs"]["Resource"] == {"Fn::Sub": f"{arn}:job/*"}
    assert sm["SyncRule"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:events:"
                                          "${AWS::Region}:${AWS::AccountId}:rule/"
                                          "StepFunctionsGetEventsForBatchJobsRule"}
    # A flow that reads control objects may read them under its own prefix only.
    switch = role_statements(load(built["switch"]), "StateMachineRole")
    assert switch["ReadControlObjects"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}/${S3KeyPrefix}SwitchFlow/*"
    }
    assert "RunMapChildren" not in switch


def test_distributed_map_may_run_only_its_own_children(built: dict[str, Path]) -> None:
    t = load(built["foreach_distributed"])
    name = t["Resources"]["StateMachine"]["Properties"]["StateMachineName"]
    sm = role_statements(t, "StateMachineRole")
    states = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    assert sm["RunMapChildren"]["Action"] == ["states:StartExecution"]
    assert sm["RunMapChildren"]["Resource"] == {"Fn::Sub": f"{states}:stateMachine:{name}"}
    assert sm["ManageMapChildren"]["Resource"] == {"Fn::Sub": f"{states}:execution:{name}/*"}
    for other in ("split", "switch", "loop", "foreach_nested"):
        assert "RunMapChildren" not in role_statements(load(built[other]), "StateMachineRole")


def test_job_role_reaches_only_the_flow_prefix(built: dict[str, Path]) -> None:
    job = role_statements(load(built["split"]), "JobRole")
    prefix = "${S3KeyPrefix}SplitFlow/*"
    assert job["FlowData"]["Resource"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:s3:::${{S3Bucket}}/{prefix}"
    }
    assert job["ListFlowData"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}"}
    assert job["ListFlowData"]["Condition"] == {"StringLike": {"s3:prefix": [{"Fn::Sub": prefix}]}}
    assert job["CodePackage"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}/${CodePackageKey}"
    }


def test_schedule_role_starts_only_this_state_machine(built: dict[str, Path]) -> None:
    for name, service in (("decorators", "events"), ("timezone", "scheduler")):
        t = load(built[name])
        role = t["Resources"]["ScheduleRole"]["Properties"]
        trust = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert trust["Principal"] == {"Service": f"{service}.amazonaws.com"}
        assert role_statements(t, "ScheduleRole") == {"StartFlow": {
            "Sid": "StartFlow", "Effect": "Allow", "Action": ["states:StartExecution"],
            "Resource": {"Ref": "StateMachine"},
        }}


# -- what the template holds --------------------------------------------------------------------


@pytest.mark.parametrize("name", FLOWS)
def test_definition_is_the_golden_asl(name: str, built: dict[str, Path]) -> None:
    machine = load(built[name])["Resources"]["StateMachine"]["Properties"]
    golden = json.loads((GOLDEN / name / "flow.asl.json").read_text())
    assert machine["Definition"] == golden
    assert machine["StateMachineType"] == "STANDARD"
    flow = golden["Comment"].split(",")[0]
    # @project(name="forecast", branch="nightly"): the branch test.nightly in the name
    expected = "ml-forecast-test-nightly-" + flow if name == "project" else "ml-" + flow
    assert machine["StateMachineName"] == expected
    assert sorted(machine["DefinitionSubstitutions"]) == placeholders(golden)


def _replace_each_repeatedly(text: str, values: dict[str, str]) -> str:
    """What CloudFormation does with DefinitionSubstitutions (StringUtils.replaceEachRepeatedly
    in the AWS::StepFunctions::StateMachine handler): replace every `${Key}` until none is left."""
    for _ in range(10):
        before = text
        for key, value in values.items():
            text = text.replace(f"${{{key}}}", value)
        if text == before:
            return text
    raise AssertionError("substitution does not settle")


def test_user_dollar_text_reaches_aws_verbatim(built: dict[str, Path]) -> None:
    machine = load(built["dollar"])["Resources"]["StateMachine"]["Properties"]
    markers = {key: f"<{key}>" for key in machine["DefinitionSubstitutions"]}
    deployed = json.loads(_replace_each_repeatedly(json.dumps(machine["Definition"]), markers))
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and "${" in node:
            found.add(node)

    walk(deployed)
    assert found == DOLLAR_TEXT  # every user string, and no placeholder left
    queues = {s["Parameters"]["JobQueue"] for s in deployed["States"].values()
              if s["Type"] == "Task" and "JobQueue" in s.get("Parameters", {})}
    assert queues == {markers[k] for k in markers if k.startswith("JobQueue")}


def test_parameter_defaults_come_from_the_settings(built: dict[str, Path]) -> None:
    params = load(built["switch"])["Parameters"]
    defaults = {k: v.get("Default") for k, v in params.items()}
    assert defaults["JobQueueArn"] == QUEUE
    assert defaults["S3Bucket"] == "team-bucket"
    assert defaults["S3KeyPrefix"] == "runs/"
    assert defaults["CodePackageKey"] == f"runs/code/{CODE_SHA}.tar.gz"
    assert defaults["CodePackageSha256"] == CODE_SHA
    bare = load(built["switch-bare"])["Parameters"]
    for name in ("JobQueueArn", "Image", "S3Bucket", "S3KeyPrefix", "CodePackageKey",
                 "CodePackageSha256"):
        assert "Default" not in bare[name], name


def test_job_definitions(built: dict[str, Path]) -> None:
    r = load(built["decorators"])["Resources"]
    shared = r["JobDefinition"]["Properties"]
    assert shared["JobDefinitionName"] == "ml-DecoratedFlow"
    container = shared["ContainerProperties"]
    assert container["Image"] == {"Ref": "Image"}
    assert {e["Name"]: e["Value"] for e in container["Environment"]} == {
        "SFNCOMPILE_CODE_PACKAGE": {"Fn::Sub": "s3://${S3Bucket}/${CodePackageKey}"},
        "SFNCOMPILE_CODE_SHA256": {"Ref": "CodePackageSha256"},
        "SFNCOMPILE_DATASTORE_ROOT": {"Fn::Sub": "s3://${S3Bucket}/${S3KeyPrefix}"},
        "SFNCOMPILE_EVENT_BUS": {"Ref": "EventBusName"},
    }
    assert shared["Tags"] == {"env": "dev", "team": "ml"}
    assert shared["PlatformCapabilities"] == {"Fn::If": ["IsFargate", ["FARGATE"], ["EC2"]]}
    # @batch(gpu=1, image=...): its own definition, and EC2 whatever the queue's platform.
    train = r["JobDefinitionTrain"]["Properties"]
    assert train["ContainerProperties"]["Image"] == "python:3.12-slim"
    assert train["PlatformCapabilities"] == ["EC2"]
    assert "ExecutionRoleArn" not in train["ContainerProperties"]


def test_schedules(built: dict[str, Path]) -> None:
    t = load(built["decorators"])
    rule = t["Resources"]["Schedule"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert rule["Properties"]["Targets"][0]["Input"] == {"Ref": "ScheduleInput"}
    # `label` is required and has no default: the stack cannot start runs without it.
    schedule_input = t["Parameters"]["ScheduleInput"]
    assert "Default" not in schedule_input and "label" in schedule_input["Description"]
    tz = load(built["timezone"])["Resources"]["Schedule"]
    assert tz["Type"] == "AWS::Scheduler::Schedule"
    assert tz["Properties"]["ScheduleExpressionTimezone"] == "Europe/Paris"
    for name in ("split", "switch"):
        assert "Schedule" not in load(built[name])["Resources"]


def test_schedule_input_defaults_to_the_parameters(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from sfncompile import FlowSpec, Parameter, schedule, step\n\n\n"
        "@schedule(daily=True)\n"
        "class NightlyFlow(FlowSpec):\n"
        "    alpha = Parameter('alpha', default=0.5, type=float)\n"
        "    label = Parameter('label', default='x')\n\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    proc = sfncompile("build", str(flow), "--format", "cloudformation")
    assert proc.returncode == 0, proc.stderr
    params = json.loads(proc.stdout)["Parameters"]
    assert json.loads(params["ScheduleInput"]["Default"]) == {"alpha": 0.5, "label": "x"}


def test_template_is_deterministic(built: dict[str, Path]) -> None:
    target = built["decorators"].with_name("again.json")
    proc = sfncompile("build", str(GOLDEN / "decorators" / "flow.py"), *SETTINGS,
                      "--format", "cloudformation", "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == built["decorators"].read_bytes()


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--code-sha256", CODE_SHA], "only with --format cloudformation"),
    (["--format", "cloudformation", "--resolve", "JobQueue=q"], "only with --format asl"),
    (["--format", "cloudformation", "--code-sha256", "xyz"], "64 lowercase hex"),
    (["--format", "cloudformation", "--s3-root", "s3://a-bucket/p",
      "--code-package", "s3://other-bucket/code.tgz"], "must be in the s3_root bucket"),
    (["--format", "cloudformation", "--s3-root", "bucket/p"], "must be s3://"),
    (["--format", "cloudformation", "--name-prefix", "my team "], "state machine name"),
    (["--format", "cloudformation", "--tags", "team="], "needs a value"),
])
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from sfncompile.cli import main

    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SFNCOMPILE_")}
    result = CliRunner().invoke(main, ["build", str(GOLDEN / "split" / "flow.py"), *args],
                                env=unset)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_settings_come_from_sfncompile_toml(tmp_path: Path) -> None:
    shutil.copy(GOLDEN / "split" / "flow.py", tmp_path / "flow.py")
    shutil.copy(TEMPLATES / "sfncompile.toml.example", tmp_path / "sfncompile.toml")
    proc = sfncompile("build", str(tmp_path / "flow.py"), "--format", "cloudformation")
    assert proc.returncode == 0, proc.stderr
    t = json.loads(proc.stdout)
    assert t["Resources"]["StateMachine"]["Properties"]["StateMachineName"] == "ml-SplitFlow"
    assert t["Parameters"]["S3KeyPrefix"]["Default"] == "sfncompile/"
    assert {"Key": "cost-center", "Value": "1234"} in t["Resources"]["JobRole"]["Properties"][
        "Tags"]


def test_build_cloudformation_does_not_import_boto3(tmp_path: Path) -> None:
    code = ("import sys; from sfncompile.cli import main\n"
            "try:\n    main(['build', sys.argv[1], '--format', 'cloudformation', '-o', "
            "sys.argv[2]])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code, str(GOLDEN / "decorators" / "flow.py"),
                           str(tmp_path / "out.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# -- the other templates ------------------------------------------------------------------------


def test_toml_example_shows_every_setting(tmp_path: Path) -> None:
    from sfncompile.deploy.config import NAMES, load_config

    shutil.copy(TEMPLATES / "sfncompile.toml.example", tmp_path / "sfncompile.toml")
    config = load_config(tmp_path, env={})
    assert sorted(config.values) == sorted(NAMES)
    assert set(config.sources.values()) == {str(tmp_path / "sfncompile.toml")}


def test_infra_outputs_map_onto_the_settings() -> None:
    from sfncompile.deploy.config import NAMES

    outputs = unrolled(load(INFRA)["Outputs"])
    texts = [o["Description"] for o in outputs.values()]
    described = {(t["Fn::Sub"] if isinstance(t, dict) else t).split()[0] for t in texts}
    assert set(NAMES) - {"tags"} <= described
    # job_role differs per flow (one role per flow), so it is not in the shared settings.
    toml = outputs["SfncompileToml"]["Value"]["Fn::Sub"]
    keys = {line.split(" = ")[0] for line in toml.splitlines()}
    assert keys == set(NAMES) - {"tags", "job_role"}


def test_infra_job_roles_write_only_their_own_flow() -> None:
    infra = load(INFRA)
    assert infra["Transform"] == "AWS::LanguageExtensions"
    loop = infra["Resources"]["Fn::ForEach::FlowJobRoles"]
    assert loop[:2] == ["Flow", {"Ref": "FlowNames"}]
    job = role_statements(infra, "JobRole${Flow}")
    assert sorted(job) == ["FlowData", "ListFlowData", "PublishEvents"]
    assert job["PublishEvents"]["Action"] == "events:PutEvents"
    assert job["PublishEvents"]["Resource"]["Fn::Sub"].endswith(":event-bus/${EventBus}")
    assert job["FlowData"]["Resource"] == {"Fn::Sub": "${Bucket.Arn}/${S3Prefix}/${Flow}/*"}
    assert job["ListFlowData"]["Condition"] == {
        "StringLike": {"s3:prefix": {"Fn::Sub": "${S3Prefix}/${Flow}/*"}}}
    # No other role in the stack may write objects, but for the executions' own run records
    # and their ends (the run end recorders run as this role too).
    writers = {logical for logical, st in statements(infra) if st["Effect"] == "Allow"
               and "s3:PutObject" in as_list(st["Action"])}
    assert writers == {"JobRole${Flow}", "StateMachineRole"}
    records = role_statements(infra, "StateMachineRole")["RecordRuns"]
    assert (records["Action"], records["Resource"]) == (
        "s3:PutObject", [{"Fn::Sub": "${Bucket.Arn}/${S3Prefix}/*/_run.json"},
                         {"Fn::Sub": "${Bucket.Arn}/${S3Prefix}/*/_run_end.json"}])


def test_dockerfile_runs_as_non_root_with_boto3() -> None:
    text = (TEMPLATES / "Dockerfile").read_text()
    assert text.count("FROM python:3.12-slim") == 1
    assert "boto3" in text
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
