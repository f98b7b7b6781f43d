"""Every golden flow compiles to exactly its golden ASL and diagram, from either import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sfncompile.emit import compile_asl, diagram, names
from sfncompile.emit.render import render_json
from sfncompile.parser import parse_flow
from tests.conftest import GOLDEN, golden_dirs

GOLDENS = golden_dirs()


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


@pytest.mark.parametrize("case", GOLDENS, ids=lambda p: p.name)
def test_metaflow_import_compiles_identically(case: Path) -> None:
    source = (case / "flow_metaflow.py").read_text()
    assert "from metaflow import" in source and "from sfncompile import FlowSpec" not in source
    ours = render_json(compile_asl(parse_flow(case / "flow.py")))
    theirs = render_json(compile_asl(parse_flow(case / "flow_metaflow.py")))
    assert ours == theirs


def test_check_dir_checks_every_golden_in_one_process(update_goldens: bool) -> None:
    """What CI runs: the CLI builds every golden flow (both imports) and compares them."""
    if update_goldens:
        pytest.skip("goldens are being rewritten")
    flows = [str(case / "flow.py") for case in GOLDENS]
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "build", *flows,
                           "--check-dir", str(GOLDEN)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(flows)} up to date, 0 differ, 0 with errors" in proc.stderr


# Bytes of reviewed ASL per Batch task (the golden file over its Batch Task states). It was
# 1,000 until every top-level state gained its Catch to the run's failure path (about 75 bytes
# each; a wrapping Parallel would cost about as much in indentation and 6 history events).
BYTES_PER_BATCH_TASK = 1_100


def batch_tasks(machine: dict[str, Any]) -> int:
    count = 0
    for state in machine["States"].values():
        count += str(state.get("Resource", "")).startswith("arn:aws:states:::batch:submitJob")
        for sub in [*state.get("Branches", []), state.get("ItemProcessor")]:
            count += batch_tasks(sub) if sub else 0
    return count


# Bytes of the states by which a run records itself (its start, its failure): a fixed cost per
# flow, whatever its number of steps, so kept out of the per-task figure and bounded alone.
RUN_RECORD_STATES = (names.INIT, names.RECORD_FAILURE, names.RUN_FAILED)
MAX_RUN_RECORD_BYTES = 1_300


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
