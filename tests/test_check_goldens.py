"""`sfncompile check-goldens`, the command behind the pre-commit hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sfncompile.cli import main
from sfncompile.emit import compile_asl
from sfncompile.emit.render import render_json
from sfncompile.parser import parse_flow
from tests.conftest import GOLDEN


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check-goldens", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two flows with goldens beside them, one with its golden elsewhere, and a plain module."""
    for rel, shape in {"a/linear.py": "linear", "b/split.py": "split"}.items():
        flow = tmp_path / rel
        flow.parent.mkdir(parents=True)
        flow.write_text((GOLDEN / shape / "flow.py").read_text())
        flow.with_suffix(".asl.json").write_text(render_json(compile_asl(parse_flow(flow))))
    (tmp_path / "helpers.py").write_text("def helper():\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def drift(flow: Path) -> None:
    flow.write_text(flow.read_text().replace("    @step\n    def end",
                                             "    @retry\n    @step\n    def end")
                    .replace("import FlowSpec,", "import FlowSpec, retry,"))


def test_clean_and_drifted(repo: Path) -> None:
    assert invoke("a/linear.py", "b/split.py", "helpers.py")[0] == 0
    assert invoke()[2] == "2 flows match their goldens\n"  # no files: every flow below cwd
    drift(repo / "a/linear.py")
    code, out, err = invoke("a/linear.py", "helpers.py")
    assert code == 1
    assert out.startswith("a/linear.asl.json -> a/linear.py: steps 1 changed\n"
                          "~ step end changed:\n    retry: none -> 3 times, 2 min apart\n")
    assert "1 golden out of date" in err
    # a changed golden stands for the flow beside it; other files are skipped
    assert invoke("a/linear.asl.json")[0] == 1
    assert invoke("b/split.py", "b/split.asl.json", "README.md")[0] == 0


def test_update_rewrites_only_the_drifted_golden(repo: Path) -> None:
    drift(repo / "a/linear.py")
    untouched = (repo / "b/split.asl.json").stat().st_mtime_ns
    code, _, err = invoke("--update", "a/linear.py", "b/split.py")
    assert code == 0 and err == "a/linear.asl.json: rewritten from a/linear.py\n"
    assert (repo / "b/split.asl.json").stat().st_mtime_ns == untouched
    assert invoke("a/linear.py", "b/split.py")[0] == 0


def test_golden_pattern_and_missing_golden(repo: Path) -> None:
    (repo / "goldens").mkdir()
    (repo / "a/linear.asl.json").rename(repo / "goldens/linear.json")
    code, out, _ = invoke("a/linear.py")
    assert code == 1 and out == "a/linear.asl.json: no golden file for a/linear.py\n\n"
    assert invoke("--golden", "goldens/{stem}.json", "a/linear.py")[0] == 0
    code, _, err = invoke("--golden", "{nope}.json", "a/linear.py")
    assert code == 2 and err.startswith("error: golden pattern '{nope}.json': ")


def test_broken_flow_exits_2(repo: Path) -> None:
    (repo / "a/linear.py").write_text("from sfncompile import FlowSpec\n\n"
                                      "class Broken(FlowSpec):\n    pass\n")
    code, _, err = invoke("a/linear.py", "b/split.py")
    assert code == 2 and err.startswith("a/linear.py:3:1: ")
