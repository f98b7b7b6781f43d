"""`sfncompile build` as a user runs it: the flow module is never imported or executed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import GOLDEN

HOSTILE = '''
import numpy_that_is_not_installed
from sfncompile import FlowSpec, step
raise SystemExit("the module ran")


class HostileFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_build_never_executes_the_module(tmp_path: Path) -> None:
    flow = tmp_path / "hostile.py"
    flow.write_text(HOSTILE)
    proc = run("build", str(flow))
    assert proc.returncode == 0, proc.stderr
    definition = json.loads(proc.stdout)
    assert definition["StartAt"] == "Init run"
    assert "HostileFlow-start" in proc.stdout


def test_build_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    code = ("import sys; from sfncompile.cli import main\n"
            "try:\n    main(['build', sys.argv[1], '-o', sys.argv[2]])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('boto3', 'botocore', 'pydantic', 'jsonschema')\n"
            "         or m.startswith('sfncompile.deploy') or m == 'sfncompile.flow.flowspec'\n"
            "         or m.startswith('sfncompile.cli.') and m.split('.')[2] not in "
            "('app', 'common', 'compile_commands')]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code, str(GOLDEN / "foreach" / "flow.py"),
                           str(tmp_path / "out.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_command_is_found_in_the_module_that_defines_it() -> None:
    import click

    from sfncompile.cli.app import _LIGHT_COMMANDS, main
    from sfncompile.cli.aws_commands import COMMANDS

    names = main.list_commands(click.Context(main))  # loads every command's module
    assert set(names) - {command.name for command in COMMANDS} == set(_LIGHT_COMMANDS)
    for name, module in _LIGHT_COMMANDS.items():
        callback = main.commands[name].callback
        assert callback is not None and callback.__module__ == f"sfncompile.cli.{module}", name


def test_flow_api_import_is_light() -> None:
    code = ("import sys, sfncompile\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'click', 'boto3', 'botocore')]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_check_reports_drift_with_a_diff(tmp_path: Path) -> None:
    golden = tmp_path / "golden.json"
    flow = GOLDEN / "linear" / "flow.py"
    assert run("build", str(flow), "-o", str(golden)).returncode == 0
    assert run("build", str(flow), "--check", str(golden)).returncode == 0
    golden.write_text(golden.read_text().replace("LinearFlow-add", "LinearFlow-plus"))
    proc = run("build", str(flow), "--check", str(golden))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(line.startswith("-") and '"JobName": "LinearFlow-plus"' in line for line in lines)
    assert any(line.startswith("+") and '"JobName": "LinearFlow-add"' in line for line in lines)


def test_resolve_substitutes_placeholders() -> None:
    proc = run("build", str(GOLDEN / "linear" / "flow.py"), "--resolve", "JobQueue=q1",
               "--resolve", "JobDefinition=jd:1")
    assert proc.returncode == 0, proc.stderr
    assert '"JobQueue": "q1"' in proc.stdout and "${JobQueue}" not in proc.stdout
    bad = run("build", str(GOLDEN / "linear" / "flow.py"), "--resolve", "Nope=1")
    assert bad.returncode == 2
    assert "no placeholder named Nope" in bad.stderr


def test_several_flows_need_a_name(tmp_path: Path) -> None:
    two = (HOSTILE + HOSTILE.split("raise SystemExit")[1].split("\n", 1)[1]
           .replace("HostileFlow", "OtherFlow"))
    flow = tmp_path / "two.py"
    flow.write_text(two)
    proc = run("build", str(flow))
    assert proc.returncode == 2 and "--flow NAME" in proc.stderr
    assert run("build", str(flow), "--flow", "OtherFlow").returncode == 0
    missing = run("build", str(flow), "--flow", "Nope")
    assert missing.returncode == 2 and "no flow named 'Nope'" in missing.stderr


def test_graph_formats() -> None:
    flow = str(GOLDEN / "switch" / "flow.py")
    mermaid = run("graph", flow)
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart TD")
    dot = run("graph", flow, "--format", "dot")
    assert dot.returncode == 0 and 'digraph "SwitchFlow"' in dot.stdout


def test_validate_command(tmp_path: Path) -> None:
    good = GOLDEN / "split" / "flow.asl.json"
    assert run("validate", str(good)).returncode == 0
    broken = json.loads(good.read_text())
    broken["States"]["start"]["Nxt"] = broken["States"]["start"].pop("Next")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    proc = run("validate", str(bad))
    assert proc.returncode == 1 and "Nxt" in proc.stderr


def test_resolve_leaves_the_users_dollar_text_alone(tmp_path: Path) -> None:
    from tests.test_cloudformation import DOLLAR_FLOW, DOLLAR_TEXT

    flow = tmp_path / "dollar_flow.py"
    flow.write_text(DOLLAR_FLOW)
    template = run("build", str(flow))
    assert template.returncode == 0, template.stderr
    assert '"${!JobQueue}"' in template.stdout and '"${!!S3Bucket}"' in template.stdout
    values = ["JobQueue=Q", "S3Bucket=B", "S3KeyPrefix=P/", "JobDefinition=JD", "EventBus=default",
              "ProjectName=", "ProjectBranch="]
    partial = run("build", str(flow), "--resolve", "JobQueue=${Q}")
    assert '"JobQueue": "${!Q}"' in partial.stdout  # still a template: escapes kept
    assert '"${!Secret}"' in partial.stdout
    full = run("build", str(flow), *(f"--resolve={v}" for v in values))
    assert full.returncode == 0, full.stderr
    strings = set(re.findall(r'"([^"]*\$\{[^"]*)"', full.stdout))
    assert strings == DOLLAR_TEXT
    assert '"JobQueue": "Q"' in full.stdout


def test_check_dir_reports_every_flow_then_exits(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    for name in ("linear", "split", "broken"):
        (golden / name).mkdir(parents=True)
    for name in ("linear", "split"):
        for file in ("flow.py", "flow.asl.json"):
            (golden / name / file).write_bytes((GOLDEN / name / file).read_bytes())
    drifted = golden / "split" / "flow.asl.json"
    drifted.write_text(drifted.read_text().replace("SplitFlow-square", "SplitFlow-x"))
    flows = [str(golden / name / "flow.py") for name in ("linear", "split")]

    proc = run("build", *flows, "--check-dir", str(golden))
    assert proc.returncode == 1
    assert any(line.startswith("-") and '"JobName": "SplitFlow-x"' in line
               for line in proc.stdout.splitlines())
    assert f"--- {drifted}" in proc.stdout and "linear" not in proc.stdout
    assert "1 up to date, 1 differ, 0 with errors" in proc.stderr

    (golden / "broken" / "flow.py").write_text(HOSTILE.replace("pass", "self.next(self.nope)"))
    proc = run("build", *flows, str(golden / "broken" / "flow.py"), str(tmp_path / "none.py"),
               "--check-dir", str(golden), cwd=tmp_path)
    assert proc.returncode == 2
    assert "broken/flow.py:14:9: step 'end' must not call" in proc.stderr
    assert "none.py" in proc.stderr
    assert "1 up to date, 1 differ, 2 with errors" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_several_flows_only_with_check_dir() -> None:
    flow = str(GOLDEN / "linear" / "flow.py")
    proc = run("build", flow, flow)
    assert proc.returncode == 2
    assert "error: several FLOW.py files: only with --check-dir DIR" in proc.stderr
    proc = run("build", flow, "--check-dir", str(GOLDEN), "-o", "x.json")
    assert proc.returncode == 2 and "error: --check-dir: not with -o" in proc.stderr
