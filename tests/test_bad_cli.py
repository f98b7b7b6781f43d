"""Bad command lines, one table: each is an `error: ...` line on stderr and exit 2 (exit 1 for
an error AWS returned), never a traceback, and values AWS would refuse never reach it.

Most cases run in this process (click's CliRunner on `sfncompile.cli.app.main`, checking that no
exception escaped); a sample runs again as real subprocesses, and a closed stdout can only be
tested that way. AWS points at a closed port: a case that reached AWS would end in exit 1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from sfncompile.cli import main

FLOW = '''
from sfncompile import FlowSpec, JSONType, Parameter, schedule, step


@schedule(cron="0 6 * * ? *")
class BadCliFlow(FlowSpec):
    count = Parameter("count", default=3, type=int)
    rate = Parameter("rate", default=0.5, type=float)
    fast = Parameter("fast", default=False, type=bool)
    cfg = Parameter("cfg", default="{}", type=JSONType)

    @step
    def start(self):
        print("hello")
        self.next(self.end)

    @step
    def end(self):
        pass
'''
# IncludeFile and Config: an IncludeFile is read where the run starts, a Config when the flow
# is built.
INPUTS_FLOW = b'''
from metaflow import Config, FlowSpec, IncludeFile, step


class InputsFlow(FlowSpec):
    data = IncludeFile("data", default="data.txt")
    cfg = Config("cfg", default_value={"a": 1})

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
DEAD_AWS = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
SETTINGS = ["--s3-root", "s3://bkt/p", "--job-queue", "q", "--image", "img",
            "--sfn-role", "arn:aws:iam::123456789012:role/r",
            "--events-role", "arn:aws:iam::123456789012:role/e"]
LONG = "r" * 256
DEEP = "[" * 5000 + "]" * 5000

KUBE_FLOW = """from metaflow import FlowSpec, step, kubernetes, pypi, batch


class Kube(FlowSpec):
    @pypi(packages={"no-such-dist": "1.0"})
    @kubernetes(cpu=2)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
KUBE = {"kube.py": KUBE_FLOW.encode()}
KUBE_TMPFS = {"kube.py": KUBE_FLOW.replace("@kubernetes(cpu=2)",
                                           '@batch(tmpfs_size="4G")').encode()}
# An error line: the CLI's `error: ...`, or a flow's `path:line:col: ...`.
ERROR_LINE = re.compile(r"error: |\S+\.py:\d+:\d+: ")

@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    message: str  # a part of the error line
    files: dict[str, bytes] = field(default_factory=dict)  # written into the case's directory
    code: int = 2
    links: dict[str, str] = field(default_factory=dict)  # symlinks made there: name -> target
    env: dict[str, str] = field(default_factory=dict)  # set while the case runs


def case(id: str, *args: str, message: str = "", code: int = 2,
         files: dict[str, bytes] | None = None, links: dict[str, str] | None = None,
         env: dict[str, str] | None = None) -> Case:
    return Case(id, list(args), message, files or {}, code, links or {}, env or {})


def toml(text: str) -> dict[str, bytes]:
    return {"sfncompile.toml": text.encode()}


def pyproject(text: str) -> dict[str, bytes]:
    return {"pyproject.toml": text.encode()}


# {flow}, {dir}, {run} and {root} are filled in per case.
CASES: list[Case] = [
    # -- click's own usage errors, in the same form -------------------------------------------
    case("unknown-command", "frobnicate", message="No such command"),
    case("unknown-option", "build", "{flow}", "--frob", message="No such option"),
    case("missing-flow", "build", message="Missing argument"),
    case("flow-is-a-directory", "build", "{dir}", message="is a directory"),
    case("bad-format", "build", "{flow}", "--format", "yaml", message="'yaml' is not one of"),
    case("bad-graph-format", "graph", "{flow}", "--format", "png", message="is not one of"),
    case("max-workers-0", "run", "{flow}", "--max-workers", "0", message="not in the range"),
    case("max-workers-text", "run", "{flow}", "--max-workers", "x", message="not a valid integer"),
    case("extra-argument", "build", "{flow}", "extra", message="several FLOW.py files"),
    case("extra-argument-graph", "graph", "{flow}", "extra", message="unexpected extra argument"),
    case("show-no-run", "show", message="Missing argument"),
    case("logs-extra", "logs", "F/r/s", "x", message="unexpected extra argument"),
    case("deploy-max-workers-0", "deploy", "{flow}", "--max-workers", "0", *SETTINGS,
         message="not in the range"),
    case("config-unknown", "config", "frob", message="No such command"),
    case("validate-missing-arg", "validate", message="Missing argument"),
    case("option-missing-value", "build", "{flow}", "-o", message="requires an argument"),
    # -- run ids, flow names, step names and task ids in show / logs / resume ----------------
    *(case(f"{cmd}-run-{label}", cmd, f"BadCliFlow/{run}{tail}", message=message)
      for cmd, tail in (("show", ""), ("resume", ""), ("logs", "/start"))
      for label, run, message in (
          ("dot", ".", "run id '.' is not allowed"),
          ("dotdot", "..", "run id '..' is not allowed"),
          ("data", "data", "run id 'data' is not allowed"),
          ("long", LONG, "longer than 255 characters"),
          ("control", "r\x01n", "control characters"),
      )),
    *(case(f"{cmd}-flow-{label}", cmd, f"{flow}/r1{tail}", message=message)
      for cmd, tail in (("show", ""), ("resume", ""), ("logs", "/start"))
      for label, flow, message in (
          ("digit", "1Flow", "not a Python identifier"),
          ("dot", ".", "not a Python identifier"),
          ("dotdot", "..", "not a Python identifier"),
          ("empty", "", "Flow/run-id"),
      )),
    case("show-no-slash", "show", "BadCliFlow", message="name a run as Flow/run-id"),
    case("show-three-parts", "show", "BadCliFlow/r/x", message="name a run as Flow/run-id"),
    case("resume-no-run", "resume", "BadCliFlow/", message="name a run as Flow/run-id"),
    case("logs-two-parts", "logs", "BadCliFlow/r1", message="expected Flow/run-id/step"),
    case("logs-five-parts", "logs", "BadCliFlow/r1/start/0/x", message="expected Flow/run-id"),
    case("logs-empty-step", "logs", "BadCliFlow/r1//0", message="expected Flow/run-id"),
    case("logs-step-dotdot", "logs", "BadCliFlow/r1/../0", message="not a Python identifier"),
    case("logs-step-data", "logs", "BadCliFlow/r1/data", message="step name 'data'"),
    case("logs-task-dotdot", "logs", "{run}/start/..", message="task id '..' is not allowed"),
    case("logs-task-long", "logs", "{run}/start/" + LONG, message="longer than 255"),
    # -- things that do not exist ------------------------------------------------------------
    case("logs-missing-task", "logs", "{run}/start/7", "--datastore-root", "{root}",
         message="no task '7' in"),
    case("logs-missing-step", "logs", "{run}/nope", "--datastore-root", "{root}",
         message="no tasks for"),
    case("logs-missing-run", "logs", "BadCliFlow/nope/start", "--datastore-root", "{root}",
         message="no tasks for"),
    case("show-missing-run", "show", "BadCliFlow/nope", "--datastore-root", "{root}",
         message="no run BadCliFlow/nope"),
    # -- cards --------------------------------------------------------------------------------
    case("card-get-two-parts", "card", "get", "BadCliFlow/r1", message="expected Flow/run-id"),
    case("card-get-step-dotdot", "card", "get", "BadCliFlow/r1/../0",
         message="must be Python identifiers"),
    case("card-get-run-data", "card", "get", "BadCliFlow/data/start", message="reserved"),
    case("card-get-missing-run", "card", "get", "BadCliFlow/nope/start", "--datastore-root",
         "{root}", message="no run BadCliFlow/nope"),
    case("card-view-missing-step", "card", "view", "{run}/nope", "--datastore-root", "{root}",
         message="has no step 'nope'"),
    case("card-get-missing-task", "card", "get", "{run}/start/7", "--datastore-root", "{root}",
         message="no committed task"),
    case("card-get-no-card", "card", "get", "{run}/start", "--datastore-root", "{root}",
         message="has no card"),
    case("card-list-root-s3-no-bucket", "card", "list", "BadCliFlow/r1/start",
         "--datastore-root", "s3://", message="is not an S3 bucket name"),
    case("resume-missing-run", "resume", "BadCliFlow/nope", "--datastore-root", "{root}",
         message="no run BadCliFlow/nope"),
    case("resume-name-without-on-aws", "resume", "BadCliFlow/nope", "--name", "X",
         "--datastore-root", "{root}", message="--name: only with --on-aws"),
    case("resume-on-aws-local-root", "resume", "BadCliFlow/nope", "--on-aws",
         "--datastore-root", "{root}", message="give --datastore-root s3://BUCKET/PREFIX"),
    case("resume-flow-file-missing-run", "resume", "BadCliFlow/nope", "--flow-file",
         "{dir}/missing.py", "--datastore-root", "{root}", message="no run BadCliFlow/nope"),
    # resume FLOW.py: the latest run of the flow, or --origin-run-id
    case("resume-py-no-run", "resume", "{flow}", "--datastore-root", "{dir}/empty",
         message="no run of BadCliFlow to resume under"),
    case("resume-py-missing-origin", "resume", "{flow}", "--origin-run-id", "nope",
         "--datastore-root", "{root}", message="no run BadCliFlow/nope"),
    case("resume-py-origin-dotdot", "resume", "{flow}", "--origin-run-id", "..",
         "--datastore-root", "{root}", message="run id '..' is not allowed"),
    case("resume-py-flow-file", "resume", "{flow}", "--flow-file", "{flow}",
         message="--flow-file: not with FLOW.py"),
    case("resume-origin-with-pathspec", "resume", "BadCliFlow/r1", "--origin-run-id", "r2",
         message="--origin-run-id and --flow: only with FLOW.py"),
    case("resume-py-missing-file", "resume", "{dir}/missing.py", message="missing.py"),
    case("resume-py-wrong-flow", "resume", "{flow}", "--flow", "Nope", message="Nope"),
    # dump (Metaflow's `python flow.py dump RUN/STEP[/TASK]`) and show/status --json
    case("dump-two-parts", "dump", "BadCliFlow/r1", message="expected Flow/run-id/step"),
    case("dump-run-dotdot", "dump", "BadCliFlow/../start", message="run id '..'"),
    case("dump-missing-step", "dump", "{run}/nope", "--datastore-root", "{root}",
         message="no tasks for"),
    case("dump-missing-task", "dump", "{run}/start/7", "--datastore-root", "{root}",
         message="no committed task '7'"),
    case("dump-max-value-size-negative", "dump", "{run}/start", "--max-value-size", "-1",
         message="not in the range"),
    case("dump-file-directory", "dump", "{run}/start", "--file", "{dir}", "--datastore-root",
         "{root}", message="is a directory"),
    case("dump-file-no-parent", "dump", "{run}/start", "--file", "{dir}/no/such/x.pkl",
         "--datastore-root", "{root}", message="cannot write it"),
    case("show-json-missing-run", "show", "BadCliFlow/nope", "--json", "--datastore-root",
         "{root}", message="no run BadCliFlow/nope"),
    # -- --with DECO[:K=V,...], as Metaflow spells it -------------------------------------------
    case("run-with-unknown", "run", "{flow}", "--with", "nosuch", "--datastore-root", "{root}",
         message="unknown step decorator 'nosuch'"),
    case("run-with-bad-value", "run", "{flow}", "--with", "retry:times=x",
         "--datastore-root", "{root}", message="argument 'times' of @retry must be an int"),
    case("build-with-unknown-argument", "build", "{flow}", "--with", "retry:bogus=1",
         message="unknown argument 'bogus' of @retry"),
    case("config-show-missing", "config", "show", "{dir}/missing.py", message="no such file"),
    case("build-missing-flow", "build", "{dir}/missing.py", message="missing.py"),
    case("validate-missing", "validate", "{dir}/missing.json", message="cannot read it"),
    # -- datastore roots -----------------------------------------------------------------------
    *(case(f"{cmd}-root-{label}", *args, "--datastore-root", root, message=message)
      for cmd, args in (("run", ("run", "{flow}")), ("resume", ("resume", "BadCliFlow/r1")),
                        ("show", ("show", "BadCliFlow/r1")),
                        ("logs", ("logs", "BadCliFlow/r1/start")))
      for label, root, message in (
          ("s3-no-bucket", "s3://", "is not an S3 bucket name"),
          ("s3-empty-bucket", "s3:///p", "is not an S3 bucket name"),
          ("s3-upper-bucket", "s3://My_Bucket/p", "is not an S3 bucket name"),
          ("s3-dotdot", "s3://bkt/../p", "no empty, . or .. parts"),
          ("s3-dot", "s3://bkt/./p", "no empty, . or .. parts"),
          ("s3-double-slash", "s3://bkt/a//b", "no empty, . or .. parts"),
          ("file", "{dir}/flow.py", "not a directory"),
          ("dev-null", "/dev/null", "not a directory"),
      )),
    *(case(f"{cmd}-root-unwritable-{label}", *args, "--datastore-root", root,
           message="cannot write there")
      for cmd, args in (("run", ("run", "{flow}")), ("resume", ("resume", "BadCliFlow/r1")))
      for label, root in (("proc", "/proc/sfncompile-nope"), ("under-a-file", "{flow}/x"),
                          ("sys", "/sys/sfncompile-nope"))),
    # -- sfncompile.toml / pyproject.toml ------------------------------------------------------
    *(case(f"{cmd}-config-{label}", *args, message=message, files=files)
      for cmd, args in (("deploy", ("deploy", "{flow}", "--dry-run")),
                        ("config-show", ("config", "show", "{flow}")),
                        ("cloudformation", ("build", "{flow}", "--format", "cloudformation")))
      for label, files, message in (
          ("toml-not-utf8", {"sfncompile.toml": b'image = "\xff"\n'}, "not UTF-8"),
          ("pyproject-not-utf8", {"pyproject.toml": b'[tool.sfncompile]\nimage = "\xfe"\n'},
           "not UTF-8"),
          ("toml-invalid", toml("image = \n"), "cannot read it"),
          ("tags-list", toml('tags = ["a", "b"]\n'), "tags must be a table"),
          ("tags-number", toml("tags = 5\n"), "tags must be a table"),
          ("tags-bool", toml("tags = true\n"), "tags must be a table"),
          ("tag-value-number", toml("[tags]\nteam = 1\n"), "the value of team must be a string"),
          ("tag-aws", toml('[tags]\n"aws:x" = "1"\n'), "prefix aws: is reserved"),
          ("tool-number", pyproject("[tool]\nsfncompile = 1\n"), "must be a table"),
          ("tool-not-table", pyproject("tool = 1\n"), "[tool] must be a table"),
          ("image-number", toml("image = 5\n"), "image must be a string, not a number"),
          ("region-list", toml('region = ["eu-west-1"]\n'), "region must be a string"),
          ("unknown-setting", toml('job_quee = "q"\n'), "unknown setting job_quee"),
          ("s3-root-dotdot", toml('s3_root = "s3://bkt/a/../b"\n'), "no empty, . or .. parts"),
          ("s3-root-http", toml('s3_root = "https://bkt/a"\n'), "must be s3://bucket"),
          ("region-bad", toml('region = "moon-1"\n'), "is not an AWS region name"),
          ("platform-bad", toml('platform = "LAMBDA"\n'), "must be EC2 or FARGATE"),
      )),
    # -- validate ------------------------------------------------------------------------------
    case("validate-not-utf8", "validate", "{dir}/x.json", message="not UTF-8 (byte 7)",
         files={"x.json": b'{"a": "\xff"}'}),
    case("validate-deep", "validate", "{dir}/x.json", message="nested too deeply",
         files={"x.json": ("[" * 100_000 + "]" * 100_000).encode()}),
    case("validate-deep-objects", "validate", "{dir}/x.json", message="nested too deeply",
         files={"x.json": ('{"a":' * 50_000 + "1" + "}" * 50_000).encode()}),
    case("validate-huge-int", "validate", "{dir}/x.json", message="not usable JSON",
         files={"x.json": b"1" * 5000}),
    case("validate-not-json", "validate", "{dir}/x.json", message="not JSON",
         files={"x.json": b"{nope"}),
    case("validate-empty", "validate", "{dir}/x.json", message="not JSON",
         files={"x.json": b""}),
    case("validate-directory", "validate", "{dir}", message="is a directory"),
    # -- build: output, golden, --resolve ------------------------------------------------------
    case("check-not-utf8", "build", "{flow}", "--check", "{dir}/g.json", message="not UTF-8",
         files={"g.json": b"\xff\xfe{}"}),
    case("check-missing", "build", "{flow}", "--check", "{dir}/nope.json",
         message="cannot read it"),
    case("output-is-flow", "build", "{flow}", "-o", "{flow}", message="the flow file itself"),
    case("output-is-flow-relative", "build", "{flow}", "-o", "{dir}/./flow.py",
         message="the flow file itself"),
    case("output-is-flow-cfn", "build", "{flow}", "--format", "cloudformation", "-o", "{flow}",
         message="the flow file itself"),
    case("graph-output-is-flow", "graph", "{flow}", "-o", "{flow}",
         message="the flow file itself"),
    case("output-in-missing-dir", "build", "{flow}", "-o", "{dir}/no/such/out.json",
         message="cannot write it"),
    case("resolve-no-equals", "build", "{flow}", "--resolve", "JobQueue",
         message="expected NAME=VALUE"),
    case("resolve-unknown", "build", "{flow}", "--resolve", "Nope=1",
         message="no placeholder named Nope"),
    case("resolve-with-cfn", "build", "{flow}", "--format", "cloudformation", "--resolve",
         "JobQueue=q", message="only with --format asl"),
    case("cfn-option-with-asl", "build", "{flow}", "--image", "x",
         message="only with --format cloudformation"),
    # -- parameters ----------------------------------------------------------------------------
    *(case(f"{cmd}-param-{label}", *args, "--param", param, message=message)
      for cmd, args in (("run", ("run", "{flow}")), ("trigger", ("trigger", "{flow}")))
      for label, param, message in (
          ("nan", "rate=nan", "expected a finite number"),
          ("inf", "rate=inf", "expected a finite number"),
          ("minus-inf", "rate=-Infinity", "expected a finite number"),
          ("overflow", "rate=1e999", "expected a finite number"),
          ("not-a-number", "rate=fast", "expected a number"),
          ("int-text", "count=three", "expected an integer"),
          ("int-float", "count=1.5", "expected an integer"),
          ("int-huge", "count=" + "9" * 5000, "expected an integer"),
          ("bool-bad", "fast=maybe", "expected a boolean"),
          ("json-deep", "cfg=" + DEEP, "nested deeper than 100 levels"),
          ("json-deep-unclosed", "cfg=" + "[" * 100_000, "nested deeper than 100 levels"),
          ("json-nan", "cfg=NaN", "NaN is not JSON"),
          ("json-infinity", "cfg=[Infinity]", "Infinity is not JSON"),
          ("json-huge-int", "cfg=" + "1" * 5000, "expected JSON"),
          ("json-invalid", "cfg={nope", "expected JSON"),
          ("unknown", "nope=1", "unknown parameter 'nope'"),
          ("no-equals", "count", "expected NAME=VALUE"),
          ("empty-name", "=1", "expected NAME=VALUE"),
      )),
    *(case(f"{cmd}-include-missing", *args, "--param", "data=nope.txt",
           message="IncludeFile 'data': no file 'nope.txt'", files={"inputs.py": INPUTS_FLOW})
      for cmd, args in (("run", ("run", "{dir}/inputs.py")),
                        ("trigger", ("trigger", "{dir}/inputs.py")))),
    case("run-include-default-missing", "run", "{dir}/inputs.py",
         message="IncludeFile 'data': no file 'data.txt'", files={"inputs.py": INPUTS_FLOW}),
    case("run-config-given", "run", "{dir}/inputs.py", "--param", "cfg={}",
         message="Config 'cfg' is read when the flow is built",
         files={"inputs.py": INPUTS_FLOW, "data.txt": b"x"}),
    # --config NAME PATH and --config-value NAME VALUE at run time
    *(case(f"run-config-{label}", "run", "{dir}/inputs.py", "--datastore-root", "{root}",
           *args, message=message, files={"inputs.py": INPUTS_FLOW, "data.txt": b"x"})
      for label, args, message in (
          ("missing-file", ("--config", "cfg", "{dir}/missing.json"), "cannot read it"),
          ("unknown-name", ("--config", "nope", "{dir}/data.txt"), "has no Config named 'nope'"),
          ("value-not-json", ("--config-value", "cfg", "{bad"), "is not JSON"),
          ("one-argument", ("--config", "cfg"), "requires 2 arguments"),
      )),
    # ... and when the flow is built or deployed; Metaflow's variables for them
    *(case(f"{cmd}-config-{label}", *args, *extra, message=message, env=env,
           files={"inputs.py": INPUTS_FLOW, "data.txt": b"x"})
      for cmd, args in (("build", ("build", "{dir}/inputs.py")),
                        ("deploy", ("deploy", "{dir}/inputs.py", *SETTINGS, "--dry-run")))
      for label, extra, env, message in (
          ("missing-file", ("--config", "cfg", "{dir}/missing.json"), None, "cannot read it"),
          ("unknown-name", ("--config-value", "nope", "{}"), None,
           "has no Config named 'nope'"),
          ("value-not-json", ("--config-value", "cfg", "{bad"), None, "is not JSON"),
          ("file-and-value", ("--config", "cfg", "{dir}/data.txt", "--config-value", "cfg",
                              "{}"), None, "give a file or a value for a Config, not both"),
          ("env-not-json", (), {"METAFLOW_FLOW_CONFIG_VALUE": "{bad"},
           "METAFLOW_FLOW_CONFIG_VALUE: not JSON"),
          ("env-not-object", (), {"METAFLOW_FLOW_CONFIG": '["cfg", "x.json"]'},
           "METAFLOW_FLOW_CONFIG: a JSON object of Config name -> path"),
          ("env-path-not-text", (), {"METAFLOW_FLOW_CONFIG": '{"cfg": 3}'},
           "METAFLOW_FLOW_CONFIG cfg: the path of a file"),
          ("env-missing-file", (), {"METAFLOW_FLOW_CONFIG": '{"cfg": "missing.json"}'},
           "METAFLOW_FLOW_CONFIG cfg missing.json: cannot read it"),
          ("env-unknown-name", (), {"METAFLOW_FLOW_CONFIG_VALUE": '{"nope": {}}'},
           "METAFLOW_FLOW_CONFIG_VALUE nope: flow InputsFlow has no Config named 'nope'"),
      )),
    # Configs are fixed when a flow is deployed (Metaflow's trigger takes none), and a resume
    # keeps the origin run's (Metaflow's refuses its variables too)
    *(case(f"trigger-{label}", "trigger", "{dir}/inputs.py", *extra,
           message="Configs are fixed when it is deployed; give them to `sfncompile deploy`",
           files={"inputs.py": INPUTS_FLOW, "data.txt": b"x"})
      for label, extra in (("config", ("--config", "cfg", "{dir}/data.txt")),
                           ("config-value", ("--config-value", "cfg", "{}")))),
    *(case(f"resume-config-env-{suffix}", "resume", "BadCliFlow/r1", "--datastore-root",
           "{root}", env={var: '{"cfg": {}}'}, message=f"{var}: not with resume")
      for suffix, var in (("file", "METAFLOW_FLOW_CONFIG"),
                          ("value", "METAFLOW_FLOW_CONFIG_VALUE"))),
    # dev-aws
    case("dev-aws-port-text", "dev-aws", "--port", "abc", message="is not a valid integer"),
    case("dev-aws-port-too-big", "dev-aws", "--port", "70000", message="is not in the range"),
    case("dev-aws-access-log-value", "dev-aws", "--access-log=yes",
         message="does not take a value"),
    case("dev-aws-job-log-dir-file", "dev-aws", "--job-log-dir", "{flow}", message="is a file"),
    case("run-id-file-directory", "run", "{flow}", "--run-id-file", "{dir}",
         message="is a directory"),
    case("run-id-file-no-parent", "run", "{flow}", "--run-id-file", "{dir}/no/such/rid",
         "--datastore-root", "{root}", message="cannot write it"),
    case("max-num-splits-0", "run", "{flow}", "--max-num-splits", "0",
         message="not in the range"),
    case("resume-max-num-splits-text", "resume", "BadCliFlow/r1", "--max-num-splits", "x",
         message="not a valid integer"),
    # Metaflow's `run --NAME VALUE`: a value checked as --param's, an unknown name listed
    case("run-option-param-bad", "run", "{flow}", "--count", "three",
         message="parameter 'count' (int): expected an integer"),
    case("run-option-param-equals-bad", "run", "{flow}", "--rate=fast",
         message="parameter 'rate' (float): expected a number"),
    case("run-option-unknown", "run", "{flow}", "--cuont", "3",
         message="no such option: --cuont (the flow's parameters: --count, --rate, --fast, --cfg"),
    case("run-option-no-value", "run", "{flow}", "--count", message="option --count needs a value"),
    case("run-stray-argument", "run", "{flow}", "extra", message="unexpected argument 'extra'"),
    # a file over Step Functions' 256 KiB input goes to the runs' datastore (here: nobody)
    case("trigger-include-large-aws", "trigger", "{dir}/inputs.py", message="AWS", code=1,
         files={"inputs.py": INPUTS_FLOW, "data.txt": b"x" * 300_000}),
    # -- deploy: values AWS would refuse, refused before any AWS call --------------------------
    *(case(f"deploy-{label}", "deploy", "{flow}", *SETTINGS, *extra, message=message)
      for label, extra, message in (
          ("timezone-unknown", ("--timezone", "Mars/Olympus_Mons"), "not an IANA time zone"),
          ("timezone-path", ("--timezone", "../../etc/passwd"), "not an IANA time zone"),
          ("timezone-empty-ish", ("--timezone", "Europe/"), "not an IANA time zone"),
          ("timezone-offset", ("--timezone", "+02:00"), "not an IANA time zone"),
          ("timezone-no-schedule", ("--timezone", "Europe/Paris", "--schedule", "none"),
           "no schedule to apply it to"),
          ("tag-aws", ("--tag", "aws:cost=1"), "prefix aws: is reserved"),
          ("tag-aws-upper", ("--tag", "AWS:cost=1"), "prefix AWS: is reserved"),
          ("tag-sfncompile", ("--tag", "sfncompile:state-machine=x"), "is reserved"),
          ("tag-key-long", ("--tag", "k" * 129 + "=1"), "must be 1-128"),
          ("tag-key-chars", ("--tag", "a*b=1"), "must be 1-128"),
          ("tag-value-long", ("--tag", "k=" + "v" * 257), "must be at most 256"),
          ("tag-value-chars", ("--tag", "k=a;b"), "must be at most 256"),
          ("tag-value-newline", ("--tag", "k=a\nb"), "must be at most 256"),
          ("tag-no-equals", ("--tag", "team"), "must be KEY=VALUE"),
          ("tag-empty-key", ("--tag", "=x"), "must be KEY=VALUE"),
          ("too-many-tags", tuple(f"--tag=k{i}=v" for i in range(50)), "at most 49"),
          ("workflow-timeout-0", ("--workflow-timeout", "0"), "1 to 31536000 seconds"),
          ("workflow-timeout-huge", ("--workflow-timeout", "99999999999"),
           "1 to 31536000 seconds"),
          ("workflow-timeout-text", ("--workflow-timeout", "1h"), "not a valid integer"),
          ("run-tag-empty", ("--run-tag", ""), "Tags must not be empty string"),
          ("run-tag-long", ("--run-tag", "t" * 600), "too long"),
          ("namespace-empty", ("--namespace", ""), "Tags must not be empty string"),
          ("log-group-not-arn", ("--log-execution-history", "--log-group", "nope"),
           "the ARN of a CloudWatch Logs log group"),
          ("log-history-without-group", ("--log-execution-history",),
           "missing deployment settings"),
          ("s3-root-dotdot", ("--s3-root", "s3://bkt/../x"), "no empty, . or .. parts"),
          ("s3-root-bucket", ("--s3-root", "s3://b/x"), "is not an S3 bucket name"),
          ("s3-root-no-scheme", ("--s3-root", "bkt/x"), "must be s3://bucket"),
          ("s3-root-space", ("--s3-root", "s3://bkt/a b"), "no empty, . or .. parts"),
          ("region-bad", ("--region", "Europe"), "is not an AWS region name"),
          ("express", ("--type", "EXPRESS"), "EXPRESS"),
          ("schedule-bad", ("--schedule", "cron(0 6 * * * *)"), "must be '?'"),
          ("schedule-garbage", ("--schedule", "whenever"), "--schedule"),
          ("name-chars", ("--name", "my flow"), "use letters, digits, - and _"),
          ("name-long", ("--name", "n" * 81), "state machine"),
          ("platform-bad", ("--platform", "LAMBDA"), "must be EC2 or FARGATE"),
          ("disable-without-schedule", ("--schedule", "disable", "--flow", "Nope"),
           "Nope"),
      )),
    # An unknown @schedule(timezone=...) in the flow is a flow error: tests/data/broken.
    # -- events and project branches: refused before any AWS call ------------------------------
    case("deploy-branch-slash", "deploy", "{flow}", "--branch", "feat/x", *SETTINGS,
         message="--branch: branch 'feat/x' must be 1-128 lowercase letters"),
    case("deploy-branch-upper", "deploy", "{flow}", "--branch", "Feature", *SETTINGS,
         message="lowercase letters, digits and _"),
    case("deploy-branch-long", "deploy", "{flow}", "--branch", "b" * 129, *SETTINGS,
         message="must be 1-128"),
    case("deploy-branch-no-project", "deploy", "{flow}", "--branch", "x", *SETTINGS,
         message="has no @project"),
    case("deploy-production-no-project", "deploy", "{flow}", "--production", *SETTINGS,
         message="has no @project"),
    case("build-branch-asl", "build", "{flow}", "--branch", "x",
         message="only with --format cloudformation"),
    case("trigger-branch-of-name", "trigger", "SomeFlow", "--branch", "x",
         message="only with FLOW.py"),
    case("trigger-branch-slash", "trigger", "{flow}", "--branch", "a.b",
         message="--branch: branch 'a.b'"),
    case("event-publish-empty", "event", "publish", "", message="non-empty"),
    case("event-publish-long", "event", "publish", "e" * 129, message="at most 128"),
    case("event-publish-control", "event", "publish", "a\tb", message="printable"),
    case("event-publish-payload-list", "event", "publish", "e", "--payload", "[1]",
         message="--payload must be a JSON object"),
    case("event-publish-payload-bad", "event", "publish", "e", "--payload", "{",
         message="--payload: not JSON"),
    case("event-publish-param", "event", "publish", "e", "--param", "novalue",
         message="expected NAME=VALUE"),
    case("event-publish-huge", "event", "publish", "e", "--param", "x=" + "y" * 300_000,
         message="an EventBridge event holds at most"),
    # -- the review, golden and verify commands --------------------------------------------
    case("verify-root-s3-no-bucket", "verify", "--datastore-root", "s3://", message="s3://"),
    case("verify-root-file", "verify", "--datastore-root", "{flow}", message="not a directory"),
    case("verify-missing-flow", "verify", "Nope", "--datastore-root", "{root}",
         message="no flow Nope"),
    case("verify-bad-pathspec", "verify", "../x", "--datastore-root", "{root}",
         message="name a flow as Flow"),
    case("diff-missing-file", "diff", "{flow}", "{dir}/missing.py", message="no such file"),
    case("diff-not-utf8", "diff", "{dir}/bad.json", "{flow}", message="cannot read it",
         files={"bad.json": b"\xff\xfe"}),
    case("diff-not-asl", "diff", "{dir}/x.json", "{flow}", message="not a state machine",
         files={"x.json": b'{"a": 1}'}),
    case("diff-bad-git-spec", "diff", "git:", "{flow}", message="expected git:REV:path"),
    case("diff-bad-format", "diff", "{flow}", "{flow}", "--format", "pdf",
         message="is not one of"),
    case("check-goldens-bad-pattern", "check-goldens", "--golden", "{oops}/x", "{flow}",
         message="golden pattern"),
    case("init-into-a-file", "init", "{flow}", message="is a file"),
    case("init-spec-blank", "init", "{dir}/new", "--sfncompile-spec", " ",
         message="--sfncompile-spec ' ': give one requirement"),
    case("init-spec-two-lines", "init", "{dir}/new", "--sfncompile-spec", "a\nb",
         message="--sfncompile-spec"),
    case("check-dir-a-file", "build", "{flow}", "--check-dir", "{flow}", message="is a file"),
    case("check-dir-cloudformation", "build", "{flow}", "--check-dir", "{dir}", "--format",
         "cloudformation", message="--check-dir: not with --format cloudformation"),
    case("deploy-missing-settings", "deploy", "{flow}", message="missing deployment settings"),
    case("deploy-symlink-loop", "deploy", "{flow}", "--dry-run", *SETTINGS,
         message="symlinks in", links={"again": "again"}),
    case("cfn-tag-aws", "build", "{flow}", "--format", "cloudformation", "--tags", "aws:x=1",
         message="prefix aws: is reserved"),
    case("cfn-s3-root-dotdot", "build", "{flow}", "--format", "cloudformation", "--s3-root",
         "s3://bkt/../x", message="no empty, . or .. parts"),
    case("trigger-region-bad", "trigger", "Name", "--region", "moon", message="region"),
    case("redrive-no-run", "redrive", "Name", message="name the run as NAME/run-id"),
    # -- decorators a backend refuses: `path:line:col: message` naming what to do instead ----
    case("deploy-kubernetes", "deploy", "{dir}/kube.py", "--dry-run", *SETTINGS,
         message="kube.py:6:6: step 'start': @kubernetes cannot run on AWS", files=KUBE),
    case("run-pypi-missing", "run", "{dir}/kube.py", "--datastore-root", "{dir}/store",
         message="kube.py:5:6: @pypi: no-such-dist==1.0 cannot be imported", files=KUBE),
    case("build-batch-tmpfs-size-text", "build", "{dir}/kube.py", files=KUBE_TMPFS,
         message="argument 'tmpfs_size' of @batch must be an int, got str"),
    # -- AWS answers (here: nobody answers): exit 1 ------------------------------------------
    case("status-aws", "status", "SomeFlow", message="AWS", code=1),
    case("status-json-aws", "status", "SomeFlow", "RUN", "--json", message="AWS", code=1),
    case("delete-aws", "delete", "SomeFlow", "--yes", message="AWS", code=1),
    case("trigger-aws", "trigger", "SomeFlow", message="AWS", code=1),
    case("event-publish-aws", "event", "publish", "ready", "--param", "x=1", message="AWS",
         code=1),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A flow, and a datastore holding one finished run of it."""
    base = tmp_path_factory.mktemp("badcli")
    (base / "flow.py").write_text(FLOW)
    root = base / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFNCOMPILE_", "AWS_"))}
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "run", str(base / "flow.py"),
                           "--datastore-root", str(root)], capture_output=True, text=True,
                          env=env, cwd=base)
    assert proc.returncode == 0, proc.stderr
    return {"base": str(base), "root": str(root), "run": proc.stdout.split()[-1]}


def _args(c: Case, world: dict[str, str], directory: Path) -> list[str]:
    values = {"{flow}": str(directory / "flow.py"), "{dir}": str(directory),
              "{run}": world["run"], "{root}": world["root"]}
    out = []
    for arg in c.args:
        for token, value in values.items():
            arg = arg.replace(token, value)
        out.append(arg)
    return out


def _directory(c: Case, base: Path) -> Path:
    directory = base / c.id
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flow.py").write_text(FLOW)
    for name, data in c.files.items():
        (directory / name).write_bytes(data)
    for name, target in c.links.items():
        if not (directory / name).is_symlink():  # the directory is made again per process
            (directory / name).symlink_to(target)
    return directory


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("SFNCOMPILE_", "AWS_", "METAFLOW_FLOW_CONFIG")):
            monkeypatch.delenv(key)
    for key, value in DEAD_AWS.items():
        monkeypatch.setenv(key, value)


FAMILIES = ["-run-dot", "-run-dotdot", "-run-data", "-run-long", "-root-s3-no-bucket",
            "-root-file", "-root-dev-null", "-root-unwritable", "-config-toml-not-utf8",
            "-config-tags-list", "-config-tags-number", "-config-tool-number",
            "validate-not-utf8", "validate-deep", "validate-huge-int", "check-not-utf8",
            "-param-json-deep", "-param-nan", "-param-inf", "-timezone-unknown", "-tag-aws",
            "-s3-root-dotdot", "output-is-flow", "config-show-missing", "logs-missing-task",
            "unknown-option", "-aws", "-config-env-not-json"]


def test_the_table_covers_every_family() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    missing = [f for f in FAMILIES if not any(f in c.id for c in CASES)]
    assert not missing


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_command_line(c: Case, world: dict[str, str], clean_env: None,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _directory(c, Path(world["base"]))
    monkeypatch.chdir(directory)
    for key, value in c.env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, _args(c, world, directory))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{type(result.exception).__name__}: {result.exception}"
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if ERROR_LINE.match(line)]
    assert errors, result.stderr
    assert c.message in "\n".join(errors), result.stderr
    assert result.exit_code == c.code, result.stderr
    assert (directory / "flow.py").read_text() == FLOW  # never overwritten


SAMPLE = ["show-run-dotdot", "run-root-dev-null", "deploy-config-tags-list",
          "validate-deep", "run-param-json-deep", "output-is-flow", "deploy-timezone-unknown",
          "unknown-option", "logs-missing-task", "delete-aws"]


def test_a_sample_in_real_processes(world: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFNCOMPILE_", "AWS_"))}
    env.update(DEAD_AWS)
    by_id = {c.id: c for c in CASES}
    running = []
    for name in SAMPLE:
        c = by_id[name]
        directory = _directory(c, Path(world["base"]) / "processes")
        running.append((c, subprocess.Popen(
            [sys.executable, "-m", "sfncompile", *_args(c, world, directory)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=directory)))
    for c, proc in running:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == c.code, (c.id, err)
        assert "Traceback" not in err and any(
            line.startswith("error: ") and c.message in line for line in err.splitlines()), \
            (c.id, err)


def test_a_closed_stdout_is_an_error_not_a_traceback(world: dict[str, str]) -> None:
    """`sfncompile build flow.py | head -c1`, made deterministic: the reader is gone first."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "sfncompile", "build",
                               str(Path(world["base"]) / "flow.py")],
                              stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "error: standard output was closed before everything was " \
                                  "written"


@pytest.mark.parametrize("closed", ["stdout", "stdout and stderr"])
def test_a_stdout_closed_from_the_start_is_an_error(world: dict[str, str], closed: str) -> None:
    """`sfncompile build flow.py >&-`: Python starts with sys.stdout None."""
    argv = [sys.executable, "-m", "sfncompile", "build", str(Path(world["base"]) / "flow.py")]
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: standard output is closed"), proc.stderr
    if closed == "stdout and stderr":
        silent = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: (os.close(1), os.close(2)))
        assert silent.returncode == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any directory")
def test_an_unwritable_datastore_directory(tmp_path: Path, clean_env: None) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = CliRunner().invoke(main, ["run", str(tmp_path / "flow.py"), "--datastore-root",
                                       str(locked)])
    assert result.exit_code == 2, result.stderr
    assert f"error: --datastore-root {locked}: cannot write there" in result.stderr
