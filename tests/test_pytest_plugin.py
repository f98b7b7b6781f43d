"""The pytest plugin, as a user's repository of flows uses it (run with pytest's pytester)."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import pytest

from sfncompile.emit import compile_asl
from sfncompile.emit.render import render_json
from sfncompile.parser import parse_flow
from tests.conftest import GOLDEN, ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytest_plugins = ["pytester"]

# Until the package is reinstalled the entry point may be missing, so load the plugin by name;
# the entry point carries the same name, so both together register it once.
# (pytest-benchmark, where installed, only warns that xdist disabled it.)
PLUGIN = ("-p", "sfncompile.review.pytest_plugin", "-p", "no:benchmark")

# Three flows, each in its own layout: golden beside the flow, or elsewhere.
FLOWS = {
    "pipelines/a/train.py": ("linear", None),
    "flows/etl.py": ("split", "goldens/etl.json"),
    "src/report_flow.py": ("foreach", None),
}
TESTS = '''
def test_train(sfncompile_golden):
    sfncompile_golden("pipelines/a/train.py")


def test_etl(sfncompile_golden):
    assert sfncompile_golden("flows/etl.py", "goldens/etl.json").name == "etl.json"


def test_report(sfncompile_golden):
    sfncompile_golden("src/report_flow.py")
'''


def golden_of(flow: str, golden: str | None) -> str:
    return golden or flow.removesuffix(".py") + ".asl.json"


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    for flow, (shape, golden) in FLOWS.items():
        path = pytester.path / flow
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((GOLDEN / shape / "flow.py").read_text())
        target = pytester.path / golden_of(flow, golden)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_json(compile_asl(parse_flow(path))))
    pytester.makepyfile(test_flows=TESTS)
    return pytester.path


def test_three_flows_pass(pytester: pytest.Pytester, project: Path) -> None:
    pytester.inline_run(*PLUGIN).assertoutcome(passed=3)


def test_drift_fails_with_the_semantic_diff_and_update_rewrites_only_it(
        pytester: pytest.Pytester, project: Path) -> None:
    train = project / "pipelines/a/train.py"
    train.write_text(train.read_text().replace(
        "    @step\n    def add(self):", "    @retry(times=4)\n    @step\n    def add(self):")
        .replace("import FlowSpec,", "import FlowSpec, retry,"))
    goldens = {f: project / golden_of(f, g) for f, (_, g) in FLOWS.items()}
    before = {f: (p.read_text(), p.stat().st_mtime_ns) for f, p in goldens.items()}

    result = pytester.inline_run(*PLUGIN)
    result.assertoutcome(passed=2, failed=1)
    (failed,) = result.getfailures()
    message = str(failed.longrepr)
    assert "test_train" in failed.nodeid
    assert "~ step add changed:\n    retry: none -> 4 times, 2 min apart" in message
    assert "--sfncompile-update-goldens" in message
    assert "Traceback" not in message and "sfncompile/pytest_plugin.py" not in message

    pytester.inline_run(*PLUGIN, "--sfncompile-update-goldens").assertoutcome(passed=3)
    after = {f: (p.read_text(), p.stat().st_mtime_ns) for f, p in goldens.items()}
    changed = {f for f in FLOWS if after[f] != before[f]}
    assert changed == {"pipelines/a/train.py"}
    assert json.loads(after["pipelines/a/train.py"][0]) == compile_asl(parse_flow(train))
    pytester.inline_run(*PLUGIN).assertoutcome(passed=3)


def test_missing_golden_and_broken_flow(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("ok.py").write_text((GOLDEN / "linear" / "flow.py").read_text())
    pytester.path.joinpath("broken.py").write_text(
        "from sfncompile import FlowSpec, step\n\nclass B(FlowSpec):\n    pass\n")
    pytester.makepyfile(test_more='''
def test_missing(sfncompile_golden):
    sfncompile_golden("ok.py")

def test_broken(sfncompile_golden):
    sfncompile_golden("broken.py")
''')
    result = pytester.inline_run(*PLUGIN)
    result.assertoutcome(failed=2)
    messages = {r.nodeid.split("::")[-1]: str(r.longrepr) for r in result.getfailures()}
    assert messages["test_missing"].startswith("ok.asl.json: no golden file for ok.py\n")
    assert "ok.asl.json is missing" in messages["test_missing"]
    assert messages["test_broken"].startswith("broken.py does not build:\nbroken.py:3:1: ")
    assert "During handling" not in messages["test_broken"]


def test_entry_point_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {
        "sfncompile.review.pytest_plugin": "sfncompile.review.pytest_plugin"}


def test_entry_point_installed() -> None:
    """Holds wherever the package is installed from this checkout (as CI does)."""
    # Not metadata.distribution(): an egg-info left in the checkout may shadow the install.
    ours = [d for d in metadata.distributions() if d.metadata["Name"] == "sfncompile"
            and json.loads(d.read_text("direct_url.json") or "{}").get("url") == ROOT.as_uri()]
    if not ours:
        pytest.skip("sfncompile is not installed from this checkout")
    plugins = [e for e in ours[0].entry_points if e.group == "pytest11"]
    assert [(e.name, e.value) for e in plugins] == [
        ("sfncompile.review.pytest_plugin", "sfncompile.review.pytest_plugin")]
