"""A run's history stays under 25,000 events for every foreach width sfncompile allows
(DESIGN.md, "The ASL: principles", 6), and docs/history-events.md states the numbers.

The simulator (tests/asl_sim.py) counts events state by state; the IR predicts them with
`FlowAnalysis.events_per_iteration` and caps inline widths with `max_inline_width`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from sfncompile.ir import HISTORY_LIMIT, FlowIR
from tests.asl_sim import Explorer, Record, simulate
from tests.conftest import ROOT, golden_dirs
from tests.test_state_size import MAX_RUNS, Case, golden, map_state

WIDTHS = (1, 2, 7, 50, 301)
DOC = ROOT / "docs" / "history-events.md"



def foreach_steps(mode: str) -> list[tuple[str, str]]:
    """The Map steps (a `num_parallel` opener is a foreach with no Map: its width is fixed)."""
    return [(path.name, s.name) for path in golden_dirs()
            for s in golden(path.name).flow.steps
            if s.kind == "foreach" and s.policies.foreach.mode == mode
            and s.num_parallel is None]


def inline_params() -> list[Any]:
    return [pytest.param(name, step, id=f"{name}-{step}")
            for name, step in foreach_steps("inline")]


def body_has_switch(flow: FlowIR, step: str) -> bool:
    a = flow.analysis
    inner = (*a.scope_of[step], step)
    return any(s.kind == "switch" and a.scope_of[s.name][: len(inner)] == inner
               for s in flow.steps)


@cache
def run_at(name: str, step: str, width: int) -> Record:
    """A run in which `step` is `width` items wide (other foreach steps 1), loops left at once;
    switches before the foreach take their arms in turn until a run reaches it."""
    case: Case = golden(name)
    explorer = Explorer(case.asl, width=1, widths={step: width}, loops=0)
    for _ in range(MAX_RUNS):
        explorer.new_run()
        record = simulate(case.asl, explorer, case.params, flow_name=case.flow.name)
        if map_state(step) in record.inputs:
            return record
    raise AssertionError(f"no run reached the foreach {step!r} of {name}")


@pytest.mark.parametrize(("name", "step"), inline_params())
def test_events_grow_by_events_per_iteration(name: str, step: str) -> None:
    flow = golden(name).flow
    per_iteration = flow.analysis.events_per_iteration(flow.step(step))
    counts = {w: run_at(name, step, w).events for w in WIDTHS}
    base = counts[1] - per_iteration
    if body_has_switch(flow, step):
        # Every arm is counted, one is run: the prediction is an upper bound.
        for w in WIDTHS:
            assert counts[w] - counts[1] <= (w - 1) * per_iteration, counts
    else:
        assert counts == {w: base + w * per_iteration for w in WIDTHS}


@pytest.mark.parametrize(("name", "step"), inline_params())
def test_widest_inline_foreach_stays_under_the_history_limit(name: str, step: str) -> None:
    widest = golden(name).flow.analysis.max_inline_width[step]
    assert widest > 40  # wider than an Inline Map's effective concurrency
    assert run_at(name, step, widest).events < HISTORY_LIMIT


@pytest.mark.parametrize(("name", "step"), foreach_steps("distributed"))
def test_distributed_parent_history_is_constant(name: str, step: str) -> None:
    widest_inline = max(golden(n).flow.analysis.max_inline_width[s]
                        for n, s in foreach_steps("inline"))
    records = [run_at(name, step, w) for w in (1, 50, widest_inline + 1)]
    assert len({r.events for r in records}) == 1
    assert records[-1].events < 100
    children = records[-1].child_events
    assert len(children) == widest_inline + 1
    assert len(set(children)) == 1 and children[0] < 100


# -- docs/history-events.md -------------------------------------------------------------------

_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$")
_DISTRIBUTED_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$")


def table_rows(pattern: re.Pattern[str]) -> list[tuple[str, ...]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    return [m.groups() for line in lines if (m := pattern.match(line))]


def test_doc_table_matches_the_computed_numbers() -> None:
    expected = []
    for name, step in foreach_steps("inline"):
        a = golden(name).flow.analysis
        expected.append((name, step, str(a.events_per_iteration(golden(name).flow.step(step))),
                         str(a.max_inline_width[step])))
    table = "\n".join(f"| `{n}` | `{s}` | {e} | {w} |" for n, s, e, w in expected)
    assert table_rows(_ROW) == expected, f"update the table in {DOC}:\n{table}"


def test_doc_distributed_numbers_match_the_simulator() -> None:
    expected = []
    for name, step in foreach_steps("distributed"):
        record = run_at(name, step, 50)
        expected.append((name, str(record.events), str(record.child_events[0])))
    assert table_rows(_DISTRIBUTED_ROW) == expected


def test_doc_points_beyond_the_cap_to_distributed_mode() -> None:
    assert '@foreach_options(mode="distributed"' in DOC.read_text(encoding="utf-8")
