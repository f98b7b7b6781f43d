"""`sfncompile diff`: each kind of change is named, in words, and nothing else is."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfncompile.cli import main
from sfncompile.emit import compile_asl
from sfncompile.emit.render import render_json
from sfncompile.parser import parse_flow
from sfncompile.review.asl_facts import machine_facts
from sfncompile.review.facts import from_ir
from tests.conftest import golden_dirs

BASE: dict[str, Any] = {
    "schedule": '@schedule(cron="0 6 * * ? *")',
    "start": '@environment(vars={"MODE": "train", "LEVEL": "3"})',
    "foreach": "",
    "train": ('@resources(cpu=2, memory=4096, gpu=1)\n    @retry(times=3)\n'
              '    @timeout(minutes=30)\n    @batch(image="img:1", queue="q1")'),
    "check": '@catch(var="failure")',
    "after_check": "end",
    "extra_step": "",
}

TEMPLATE = '''from sfncompile import (FlowSpec, batch, catch, environment, foreach_options,
                        resources, retry, schedule, step, timeout)


{schedule}
class ReviewFlow(FlowSpec):
    {start}
    {foreach}
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.train, foreach="items")

    {train}
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.check)

    {check}
    @step
    def check(self):
        self.next(self.{after_check})
{extra_step}
    @step
    def end(self):
        pass
'''

VALIDATE_STEP = '''
    @step
    def validate(self):
        self.next(self.end)
'''


def flow_text(**changes: str) -> str:
    return TEMPLATE.format(**{**BASE, **changes})


TRAIN = BASE["train"]
CASES: dict[str, tuple[dict[str, str], list[str]]] = {
    "step added": (
        {"after_check": "validate", "extra_step": VALIDATE_STEP},
        ["~ step check changed:", "    transition added: check -> validate",
         "    transition removed: check -> end",
         "+ step validate added:", "    linear, transitions: validate -> end"],
    ),
    "cpu": ({"train": TRAIN.replace("cpu=2", "cpu=4")},
            ["~ step train changed:", "    cpu: 2 vCPU -> 4 vCPU"]),
    "memory": ({"train": TRAIN.replace("memory=4096", "memory=8192")},
               ["~ step train changed:", "    memory: 4096 MiB -> 8192 MiB"]),
    "gpu": ({"train": TRAIN.replace("gpu=1", "gpu=2")},
            ["~ step train changed:", "    gpu: 1 -> 2"]),
    "retry": ({"train": TRAIN.replace("times=3", "times=5")},
              ["~ step train changed:",
               "    retry: 3 times, 2 min apart -> 5 times, 2 min apart"]),
    "catch": ({"check": ""}, ["~ step check changed:", "    catch: on -> none"]),
    "catch variable": ({"check": '@catch(var="oops")'},
                       ["~ step check changed:", "    catch variable: failure -> oops"]),
    "timeout": ({"train": TRAIN.replace("minutes=30", "hours=2")},
                ["~ step train changed:", "    timeout: 30 min -> 2 h"]),
    "environment names": (
        {"start": '@environment(vars={"MODE": "train", "SEED": "1"})'},
        ["~ step start changed:", "    environment added: SEED",
         "    environment removed: LEVEL"],
    ),
    "environment value": (
        {"start": '@environment(vars={"MODE": "secret-value", "LEVEL": "3"})'},
        ["~ step start changed:", "    environment value changed: MODE"],
    ),
    "foreach mode": (
        {"foreach": '@foreach_options(mode="distributed")'},
        ["~ step start changed:", "    foreach mode: inline -> distributed"],
    ),
    "foreach concurrency": (
        {"foreach": "@foreach_options(max_concurrency=8)"},
        ["~ step start changed:", "    foreach concurrency: 40 -> 8"],
    ),
    "schedule": ({"schedule": '@schedule(cron="0 7 * * ? *")'},
                 ["* schedule: cron(0 6 * * ? *) -> cron(0 7 * * ? *)"]),
    "image": ({"train": TRAIN.replace("img:1", "img:2")},
              ["~ step train changed:", "    image: img:1 -> img:2"]),
    "queue": ({"train": TRAIN.replace("q1", "q2")},
              ["~ step train changed:", "    queue: q1 -> q2"]),
}
# What an ASL file cannot say: the image lives in the job definition, the schedule in
# EventBridge, the catch variable in the flow.
FLOW_ONLY = {"schedule", "image", "catch variable"}


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def body(output: str) -> list[str]:
    """The summary without its heading line."""
    return output.splitlines()[1:]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per case: the old and the new flow, each also built to <name>.asl.json."""
    root = tmp_path_factory.mktemp("pairs")
    out = {}
    for i, (name, (changes, _)) in enumerate(CASES.items()):
        old, new = root / f"old{i}.py", root / f"new{i}.py"
        old.write_text(flow_text())
        new.write_text(flow_text(**changes))
        for flow in (old, new):
            flow.with_suffix(".asl.json").write_text(render_json(compile_asl(parse_flow(flow))))
        out[name] = (old, new)
    return out


@pytest.mark.parametrize("case", CASES)
def test_each_change_is_named_exactly(case: str, pairs: dict[str, tuple[Path, Path]]) -> None:
    old, new = pairs[case]
    expected = CASES[case][1]
    code, out = invoke("diff", str(old), str(new))
    assert code == 1
    assert out.splitlines()[0].startswith(f"{old} -> {new}: steps ")
    assert body(out) == expected
    if case not in FLOW_ONLY:
        # the same words from two ASL files, and from an ASL file against a flow
        code, from_asl = invoke("diff", str(old.with_suffix(".asl.json")),
                                str(new.with_suffix(".asl.json")))
        assert code == 1 and body(from_asl) == expected
        code, mixed = invoke("diff", str(old.with_suffix(".asl.json")), str(new))
        assert code == 1 and body(mixed) == expected


def test_removed_step_is_named(pairs: dict[str, tuple[Path, Path]]) -> None:
    old, new = pairs["step added"]
    code, out = invoke("diff", str(new), str(old))
    assert code == 1
    assert body(out) == ["~ step check changed:", "    transition added: check -> end",
                         "    transition removed: check -> validate",
                         "- step validate removed"]


def test_environment_values_never_shown(pairs: dict[str, tuple[Path, Path]]) -> None:
    old, new = pairs["environment value"]
    _, out = invoke("diff", str(old), str(new))
    assert "secret-value" not in out and "train" not in out


def test_equal_inputs_exit_0(pairs: dict[str, tuple[Path, Path]]) -> None:
    old, _ = pairs["cpu"]
    asl = str(old.with_suffix(".asl.json"))
    for a, b in [(str(old), str(old)), (asl, str(old)), (str(old), asl), (asl, asl)]:
        assert invoke("diff", a, b) == (0, "no changes\n")


def changed_lines(unified: str, old: str, new: str) -> bool:
    """The diff removes a line holding `old` and adds one holding `new` (however the JSON
    groups its fields into lines)."""
    lines = unified.splitlines()
    return (any(line.startswith("-") and old in line for line in lines)
            and any(line.startswith("+") and new in line for line in lines))


def test_json_adds_the_unified_diff(pairs: dict[str, tuple[Path, Path]]) -> None:
    old, new = pairs["gpu"]
    code, out = invoke("diff", "--json", str(old), str(new))
    assert code == 1
    summary, _, unified = out.partition("\n\n")
    assert summary.splitlines()[1:] == ["~ step train changed:", "    gpu: 1 -> 2"]
    assert unified.startswith(f"--- {old}\n+++ {new}\n")
    assert changed_lines(unified, '"Value": "1"', '"Value": "2"')


def test_only_json_differs(tmp_path: Path) -> None:
    """A change no reviewer-facing fact covers is still a difference (exit 1)."""
    definition = compile_asl(parse_flow(golden_dirs()[0] / "flow.py"))
    (tmp_path / "a.json").write_text(render_json(definition))
    (tmp_path / "b.json").write_text(render_json({**definition, "Comment": "edited"}))
    code, out = invoke("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert code == 1
    assert "the JSON differs elsewhere" in out


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
                        "HOME": str(cwd), "PATH": "/usr/bin:/bin:/usr/local/bin"})


def test_git_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "flows").mkdir()
    flow = tmp_path / "flows" / "review.py"
    flow.write_text(flow_text())
    golden = flow.with_suffix(".asl.json")
    golden.write_text(render_json(compile_asl(parse_flow(flow))))
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    flow.write_text(flow_text(train=TRAIN.replace("gpu=1", "gpu=2")))
    monkeypatch.chdir(tmp_path)
    expected = ["~ step train changed:", "    gpu: 1 -> 2"]
    code, out = invoke("diff", "git:HEAD:flows/review.py", "flows/review.py")
    assert code == 1 and body(out) == expected
    code, out = invoke("diff", "git:HEAD:flows/review.asl.json", "flows/review.py")
    assert code == 1 and body(out) == expected
    assert invoke("diff", "git:HEAD:flows/review.py", "git:HEAD:flows/review.asl.json")[0] == 0
    code, out = invoke("diff", "git:nosuchrev:flows/review.py", "flows/review.py")
    assert code == 2 and out.startswith("error: git:nosuchrev:flows/review.py: ")
    code, out = invoke("diff", "git:HEAD:flows/missing.py", "flows/review.py")
    assert code == 2 and "error: git:HEAD:flows/missing.py: " in out


# The Mermaid this project emits, line by line (the graph command's grammar, plus classes).
NODE = r"s_\w+(\[\"\w+\"\]|\(\[\"\w+\"\]\)|\{\{\"\w+\"\}\})"
EDGE = r"s_\w+ (-->|==>|-\.->)(\|\"[^\"|]*\"\|)? s_\w+"
CLASS_DEF = r"classDef (added|removed|changed) [\w#:\-, .]+"
CLASS = r"class s_\w+(,s_\w+)* (added|removed|changed)"
RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "classDef", "click"}


def check_mermaid(block: str) -> dict[str, set[str]]:
    """Validate the block; return the steps marked with each class."""
    lines = block.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: set[str] = set()
    marked: dict[str, set[str]] = {}
    for line in lines[1:]:
        assert line.startswith("  ") and not line.startswith("   "), line
        text = line.strip()
        if re.fullmatch(NODE, text):
            node = text.split("[")[0].split("(")[0].split("{")[0]
            assert node not in RESERVED and node not in nodes
            nodes.add(node)
        elif re.fullmatch(EDGE, text):
            ids = re.findall(r"\bs_\w+", re.sub(r"\|\"[^\"]*\"\|", "", text))
            assert set(ids) <= nodes, f"edge to an undeclared node: {text}"
        elif re.fullmatch(CLASS, text):
            ids, status = text.split()[1:]
            assert set(ids.split(",")) <= nodes
            marked[status] = {i.removeprefix("s_") for i in ids.split(",")}
        else:
            assert re.fullmatch(CLASS_DEF, text), f"not valid Mermaid here: {text!r}"
    return marked


def test_markdown_comment(pairs: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    old, _ = pairs["step added"]
    # one step added (validate), one removed (train), one changed (check)
    new = tmp_path / "new.py"
    new.write_text(flow_text(after_check="validate", extra_step=VALIDATE_STEP)
                   .replace("self.train", "self.fit").replace("def train", "def fit"))
    code, out = invoke("diff", "--format", "markdown", str(old), str(new))
    assert code == 1
    assert out.startswith("### State machine `ReviewFlow`\n")
    assert "- **added** step `validate`" in out and "- **removed** step `train`" in out
    block = re.search(r"```mermaid\n(.*?)```", out, re.S)
    assert block is not None
    marked = check_mermaid(block.group(1))
    assert marked == {"added": {"fit", "validate"}, "removed": {"train"},
                      "changed": {"start", "check"}}
    assert "s_start ==>|\"foreach\"| s_fit" in block.group(1)
    assert "s_start -.->|\"removed foreach\"| s_train" in block.group(1)
    assert "<details><summary>ASL diff</summary>" in out
    # equal: says so, no graph
    code, same = invoke("diff", "--format", "markdown", str(old), str(old))
    assert code == 0 and same == "### State machine `ReviewFlow`\n\nNo changes.\n"


@pytest.mark.parametrize("case", golden_dirs(), ids=lambda p: p.name)
def test_markdown_graph_valid_for_every_shape(case: Path) -> None:
    from sfncompile.review import markdown
    from sfncompile.review.semantic import compare

    flow = parse_flow(case / "flow.py")
    facts = from_ir(flow)
    empty = machine_facts({"StartAt": "x", "States": {}})
    marked = check_mermaid(markdown.mermaid(empty, facts, compare(empty, facts, {}, {})))
    assert marked == {"added": set(facts.steps)}


@pytest.mark.parametrize("case", golden_dirs(), ids=lambda p: p.name)
def test_asl_reader_agrees_with_the_flow(case: Path) -> None:
    """Read back from the ASL, every golden shape has the steps, order, transitions and
    policies of its flow: the ASL reader and the IR speak of the same facts."""
    flow = parse_flow(case / "flow.py")
    from_asl, known = machine_facts(compile_asl(flow)), from_ir(flow)
    assert list(from_asl.steps) == list(known.steps)
    for name, step in from_asl.steps.items():
        assert step.facts.items() <= known.steps[name].facts.items()
        assert sorted(step.edges) == sorted(known.steps[name].edges)
        assert step.environment == known.steps[name].environment


def test_bad_input(tmp_path: Path, pairs: dict[str, tuple[Path, Path]]) -> None:
    flow = str(pairs["cpu"][0])
    (tmp_path / "not_asl.json").write_text(json.dumps({"Resources": {}}))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "broken.py").write_text("class (:\n")
    (tmp_path / "states.json").write_text(json.dumps({"StartAt": "a", "States": {"a": 3}}))
    cases = {
        str(tmp_path / "missing.py"): f"error: {tmp_path / 'missing.py'}: no such file",
        str(tmp_path / "not_asl.json"): (f"error: {tmp_path / 'not_asl.json'}: not a state "
                                         "machine definition (no StartAt and States)"),
        str(tmp_path / "broken.json"): f"error: {tmp_path / 'broken.json'}:1:2: not JSON: ",
        "git:HEAD": "error: git:HEAD: expected git:REV:path",
        str(tmp_path / "broken.py"): f"{tmp_path / 'broken.py'}:1:7: syntax error",
    }
    for spec, message in cases.items():
        code, out = invoke("diff", flow, spec)
        assert code == 2 and out.startswith(message), (spec, out)
    # a definition whose states are not objects reads as one with no steps
    assert invoke("diff", str(tmp_path / "states.json"), flow)[0] == 1
    # end to end: a message, exit 2, no traceback
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "diff", flow,
                           "git:no-such-rev:flow.py"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: git:no-such-rev:flow.py: ")


def test_build_check_explains_the_drift(pairs: dict[str, tuple[Path, Path]]) -> None:
    old, new = pairs["retry"]
    code, out = invoke("build", str(new), "--check", str(old.with_suffix(".asl.json")))
    assert code == 1
    golden = old.with_suffix(".asl.json")
    assert out.startswith(f"{golden} -> (built): steps 1 changed\n~ step train changed:\n"
                          "    retry: 3 times, 2 min apart -> 5 times, 2 min apart\n\n"
                          f"--- {golden}\n+++ (built)\n")
    assert changed_lines(out, '"MaxAttempts": 3', '"MaxAttempts": 5')
