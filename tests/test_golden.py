"""Every golden flow compiles to exactly its golden ASL and diagram, from either import.

The `from metaflow import` twin of each golden flow is made here from its `flow.py` (see
`metaflow_twin`), not stored beside it, so the two can never drift apart.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sfncompile.emit import compile_asl, diagram, names
from sfncompile.emit.asl import ON_ERROR_HOOKS
from sfncompile.emit.render import render_json
from sfncompile.parser import parse_flow
from tests.conftest import GOLDEN, golden_dirs

GOLDENS = golden_dirs()
# Names only sfncompile has: a Metaflow user imports them from sfncompile.
SFNCOMPILE_ONLY = frozenset({"foreach_options"})


def metaflow_twin(source: str) -> str:
    """The flow as a Metaflow user writes it: each `from sfncompile import ...` becomes
    `from metaflow import ...`, but for the names only sfncompile has."""
    lines = source.splitlines(keepends=True)
    imports = [node for node in ast.parse(source).body
               if isinstance(node, ast.ImportFrom) and node.module == "sfncompile"]
    for node in reversed(imports):
        names = [alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"
                 for alias in node.names]
        ours = [n for n in names if n.split()[0] in SFNCOMPILE_ONLY]
        text = f"from metaflow import {', '.join(n for n in names if n not in ours)}\n"
        if ours:
            text += f"from sfncompile import {', '.join(ours)}\n"
        lines[node.lineno - 1:node.end_lineno] = [text]
    return "".join(lines)


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """golden name -> its Metaflow twin, at `<tmp>/<name>/flow.py` (the --check-dir layout)."""
    root = tmp_path_factory.mktemp("metaflow-twins")
    files = {}
    for case in GOLDENS:
        (root / case.name).mkdir()
        # The files beside the flow (modules it inherits from, Config files) come along; a
        # module beside it imports from metaflow too.
        for source in case.iterdir():
            if source.name.startswith("flow.") and source.name != "flow.py":
                continue  # the goldens themselves
            text = source.read_text()
            (root / case.name / source.name).write_text(
                metaflow_twin(text) if source.suffix == ".py" else text)
        files[case.name] = root / case.name / "flow.py"
    return files


def check_golden(path: Path, text: str, update: bool) -> None:
    if update:
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run pytest --update-goldens and review the diff"
    assert path.read_text(encoding="utf-8") == text, (
        f"{path} differs from the current output; if the change is intended, run "
        "pytest --update-goldens and review the diff"
    )


def test_enough_shapes() -> None:
    assert len(GOLDENS) >= 16


@pytest.mark.parametrize("case", GOLDENS, ids=lambda p: p.name)
def test_asl_matches_golden(case: Path, update_goldens: bool) -> None:
    flow = parse_flow(case / "flow.py")
    check_golden(case / "flow.asl.json", render_json(compile_asl(flow)), update_goldens)
    check_golden(case / "flow.mmd", diagram.mermaid(flow), update_goldens)


def test_metaflow_twin_rewrites_only_the_imports() -> None:
    source = ("from sfncompile import (\n    FlowSpec,\n    foreach_options,\n    step,\n)\n"
              "import sfncompile\n\nclass F(FlowSpec):\n    pass\n")
    assert metaflow_twin(source) == (
        "from metaflow import FlowSpec, step\nfrom sfncompile import foreach_options\n"
        "import sfncompile\n\nclass F(FlowSpec):\n    pass\n")


@pytest.mark.parametrize("case", GOLDENS, ids=lambda p: p.name)
def test_metaflow_import_compiles_identically(case: Path, twins: dict[str, Path]) -> None:
    source = twins[case.name].read_text()
    assert "from metaflow import" in source and "from sfncompile import FlowSpec" not in source
    ours = render_json(compile_asl(parse_flow(case / "flow.py")))
    theirs = render_json(compile_asl(parse_flow(twins[case.name])))
    assert ours == theirs


def test_check_dir_checks_every_golden_in_one_process(update_goldens: bool,
                                                     twins: dict[str, Path]) -> None:
    """What CI runs: the CLI builds every golden flow (both imports) and compares them."""
    if update_goldens:
        pytest.skip("goldens are being rewritten")
    flows = [str(case / "flow.py") for case in GOLDENS] + [str(p) for p in twins.values()]
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "build", *flows,
                           "--check-dir", str(GOLDEN)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(flows)} up to date, 0 differ, 0 with errors" in proc.stderr


# Bytes of reviewed ASL per Batch task (the golden file over its Batch Task states). It was
# 1,000 until every top-level state gained its Catch to the run's failure path (about 75 bytes
# each; a wrapping Parallel would cost about as much in indentation and 6 history events),
# then 1,005 when a task's id began with its step's number (`3-`, conventions/task_ids.py).
BYTES_PER_BATCH_TASK = 1_005


def batch_tasks(machine: dict[str, Any]) -> int:
    count = 0
    for state in machine["States"].values():
        count += str(state.get("Resource", "")).startswith("arn:aws:states:::batch:submitJob")
        for sub in [*state.get("Branches", []), state.get("ItemProcessor")]:
            count += batch_tasks(sub) if sub else 0
    return count


# Bytes of the states by which a run records itself (its start, its failure, the `run failed`
# event, an @exit_hook(on_error=...) job): a fixed cost per flow, whatever its number of steps,
# so kept out of the per-task figure and bounded alone (about 1,900 bytes, 2,600 with hooks).
RUN_RECORD_STATES = (names.INIT, names.RECORD_FAILURE, names.PUBLISH_FAILURE, ON_ERROR_HOOKS,
                     names.RUN_FAILED)
MAX_RUN_RECORD_BYTES = 2_600


def run_record_bytes(text: str) -> int:
    """Bytes of the golden's lines that belong to the run record's states."""
    size, inside = 0, False
    for line in text.splitlines(keepends=True):
        if line.startswith("    \"") and not line.startswith("     "):
            inside = line.split('"')[1] in RUN_RECORD_STATES
        size += len(line.encode()) if inside else 0
    return size


def test_asl_bytes_per_batch_task() -> None:
    sizes, fixed = {}, {}
    for case in GOLDENS:
        text = (case / "flow.asl.json").read_text()
        fixed[case.name] = run_record_bytes(text)
        sizes[case.name] = (len(text.encode()) - fixed[case.name]) / batch_tasks(json.loads(text))
    over = {name: round(size) for name, size in sizes.items()
            if size > BYTES_PER_BATCH_TASK}
    assert not over, over
    assert min(sizes.values()) > 500  # counted the Batch tasks, not every state
    assert 500 < max(fixed.values()) <= MAX_RUN_RECORD_BYTES, fixed


def test_render_json_round_trips_and_puts_records_on_one_line() -> None:
    cases: list[Any] = [{}, [], "x", 1.5, None, {"a": [], "b": {}}, [1, [2, [3]]],
                        {"é": ["ü", {"k": None}]}, {"Retry": [{"E": ["a", "b"], "N": 2}]},
                        {"Retry": [{"E": ["a"]}, {"E": ["b"]}]}, {"a": {"b": {"c": [1]}}}]
    for case in cases:
        text = render_json(case)
        assert json.loads(text) == case and text.isascii() and text.endswith("\n")
    assert render_json({"Retry": [{"E": ["a", "b"], "N": 2}]}) == (
        '{\n  "Retry": [{"E": ["a", "b"], "N": 2}]\n}\n')
    assert render_json({"Retry": [{"E": ["a"]}, {"E": ["b"]}]}) == (
        '{\n  "Retry": [\n    {"E": ["a"]},\n    {"E": ["b"]}\n  ]\n}\n')
    # A dict of scalars and records is one record; short members share a line.
    assert render_json({"s": {"T": "x", "P": {"a": 1, "b": [2]}}}) == (
        '{\n  "s": {"T": "x", "P": {"a": 1, "b": [2]}}\n}\n')
    assert render_json({"T": "x", "M": {"k": "v"}, "L": [{"a": {"b": 1}}], "N": 1, "E": True}) == (
        '{\n  "T": "x", "M": {"k": "v"},\n  "L": [\n    {"a": {"b": 1}}\n  ],\n'
        '  "N": 1, "E": true\n}\n')
    assert render_json({"a": {"b": {"c": [1]}}}) == '{\n  "a": {"b": {"c": [1]}}\n}\n'
