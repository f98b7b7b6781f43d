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


def test_build_does_not_import_boto3(tmp_path: Path) -> None:
    code = ("import sys; from sfncompile.cli import main\n"
            "try:\n    main(['build', sys.argv[1], '-o', sys.argv[2]])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code, str(GOLDEN / "foreach" / "flow.py"),
                           str(tmp_path / "out.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


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
    assert '-        "JobName": "LinearFlow-plus",' in proc.stdout
    assert '+        "JobName": "LinearFlow-add",' in proc.stdout


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
    values = ["JobQueue=Q", "S3Bucket=B", "S3KeyPrefix=P/", "JobDefinition=JD"]
    partial = run("build", str(flow), "--resolve", "JobQueue=${Q}")
    assert '"JobQueue": "${!Q}"' in partial.stdout  # still a template: escapes kept
    assert '"${!Secret}"' in partial.stdout
    full = run("build", str(flow), *(f"--resolve={v}" for v in values))
    assert full.returncode == 0, full.stderr
    strings = set(re.findall(r'"([^"]*\$\{[^"]*)"', full.stdout))
    assert strings == DOLLAR_TEXT
    assert '"JobQueue": "Q"' in full.stdout
