"""The parity corpus (tests/parity/flows) gives every task the same artifacts under
sfncompile and under Metaflow 2.19, value by value, but for the named differences of
tests/parity/corpus.py (explained in docs/metaflow-parity.md); and each tool's client says
the same of each run (tests/parity/client_walk.py: runs, steps, tasks, artifacts, metadata,
tags, logs, lineage, order), but for the differences of tests/parity/client_compare.py.

Metaflow costs about a third of a second of CPU per task (each imports Metaflow), so its runs
are grouped: the corpus is split into SHARDS, each run by one Metaflow process in the
background (tests/parity/metaflow_driver.py) while sfncompile runs the same flows. The tests
of a shard share an xdist group, so one worker runs a shard once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.parity.client_compare import compare_facts
from tests.parity.corpus import Case, cases, compare_runs
from tests.parity.harness import (
    MetaflowJob,
    MetaflowRun,
    run_sfncompile,
    sfncompile_tasks,
    walk_ours,
)

SHARDS = 4
CASES = cases()
_jobs: dict[int, MetaflowJob] = {}


def shard_of(case: Case) -> int:
    return CASES.index(case) % SHARDS


def metaflow_job(shard: int, tmp_path_factory: pytest.TempPathFactory) -> MetaflowJob:
    if shard not in _jobs:
        runs = [MetaflowRun(c.name, c.file, c.metaflow_argv()) for c in CASES
                if shard_of(c) == shard]
        _jobs[shard] = MetaflowJob(runs, tmp_path_factory.mktemp(f"metaflow-{shard}"),
                                   walk=True)
    return _jobs[shard]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name, marks=pytest.mark.xdist_group(f"parity-{shard_of(c)}"))
    for c in CASES])
def test_same_artifacts_as_metaflow(case: Case, tmp_path: Path,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    job = metaflow_job(shard_of(case), tmp_path_factory)
    proc = run_sfncompile(case.file, tmp_path, case.sfncompile_argv())
    ours = sfncompile_tasks(proc, tmp_path)
    theirs = job.tasks(case.name)
    problems = compare_runs(case.name, ours, theirs)
    assert not problems, f"{case.name}: differs from Metaflow 2.19:\n  " + "\n  ".join(problems)
    their_walk = job.results()[case.name].get("walk")
    assert their_walk, f"Metaflow's client could not walk {case.name}: " \
        f"{job.results()[case.name].get('client_error')}"
    our_walk = walk_ours(tmp_path, {case.name: proc.stdout.strip().splitlines()[-1]})
    problems = compare_facts(case.name, case.name, our_walk[case.name], their_walk)
    assert not problems, f"{case.name}: its client differs from Metaflow 2.19's:\n  " + \
        "\n  ".join(problems)
