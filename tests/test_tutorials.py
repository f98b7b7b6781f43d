"""Metaflow's own tutorials, taken from the installed `metaflow` package (never copied into
this repository): 00 to 05 build, and 00 to 03 run under sfncompile with the same artifacts,
task by task, as Metaflow's local run of the same files.

The tutorials use only the standard library (2.19's read their CSV with `csv`), so the test
needs nothing beyond Metaflow itself. 04 (`@conda`, the `editdistance` package) and 05
(`@kubernetes`) only build: running them needs conda or a Kubernetes cluster under Metaflow.
Tutorial 03 reads the latest MovieStatsFlow run (02) with the client, so 02 runs first in the
same datastore under each tool.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfncompile.cli import main
from tests.parity.corpus import Difference, compare_runs
from tests.parity.harness import MetaflowJob, MetaflowRun, run_sfncompile, sfncompile_tasks
from tests.parity.metaflow_env import metaflow_package_dir

TUTORIALS = {
    "00": "00-helloworld/helloworld.py",
    "01": "01-playlist/playlist.py",
    "02": "02-statistics/stats.py",
    "03": "03-playlist-redux/playlist.py",
    "04": "04-playlist-plus/playlist.py",
    "05": "05-hello-cloud/hello-cloud.py",
}
RUN = ["00", "01", "02", "03"]


def _items(value: Any) -> list[Any]:
    return list(value["list"]) if isinstance(value, dict) and "list" in value else [value]


def same_items(ours: Any, theirs: Any) -> bool:
    """The same elements in any order (a shuffled list, a list made from a set)."""
    def key(item: Any) -> str:
        return json.dumps(item, sort_keys=True)

    return sorted(_items(ours), key=key) == sorted(_items(theirs), key=key)


def movie_outside_genre(ours: Any, theirs: Any) -> bool:
    """Both picked a (title, genres) pair whose genres leave out the default genre."""
    def ok(value: Any) -> bool:
        pair = value.get("tuple") if isinstance(value, dict) else None
        return (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(x, str) for x in pair) and "sci-fi" not in pair[1].lower())

    return ok(ours) and ok(theirs)


# The tutorials pick at random (`random.shuffle`, `choice`, `randint`) and 02 lists a set:
# those artifacts are compared for what they must hold, not for the draw.
DIFFERENCES = (
    Difference("shuffled-playlist", frozenset({"01.movies", "01.playlist", "03.movies",
                                               "03.playlist"}),
               "random.shuffle: the same movies, in the order of each run's own draw",
               same_items),
    Difference("random-bonus", frozenset({"01.bonus", "03.bonus"}),
               "random.choice/randint: each run draws its own bonus movie outside the genre",
               movie_outside_genre),
    Difference("set-order", frozenset({"02.genres"}),
               "list(set(...)): the order of a set of strings is an accident of hashing",
               same_items),
)


@pytest.fixture(scope="module")
def tutorials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tutorials (with the files beside them) copied from the installed package."""
    source = metaflow_package_dir() / "tutorials"
    target = tmp_path_factory.mktemp("tutorials")
    files = {}
    for key, relative in TUTORIALS.items():
        folder = relative.split("/")[0]
        shutil.copytree(source / folder, target / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        files[key] = target / relative
    return files


def test_tutorials_build(tutorials: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    failures = []
    for key, flow in tutorials.items():
        result = runner.invoke(main, ["build", str(flow), "-o", str(tmp_path / f"{key}.json")])
        if result.exit_code != 0:
            failures.append(f"tutorial {key} ({flow.name}): {result.output}")
    assert not failures, "\n".join(failures)


def test_tutorials_run_like_metaflow(tutorials: dict[str, Path], tmp_path: Path) -> None:
    job = MetaflowJob([MetaflowRun(key, tutorials[key], after_previous=key == "03")
                       for key in RUN], tmp_path / "metaflow")
    root = tmp_path / "sfncompile"
    problems = []
    for key in RUN:
        proc = run_sfncompile(tutorials[key], root)
        if proc.returncode != 0:
            problems.append(f"tutorial {key}: sfncompile run failed:\n{proc.stderr[-3000:]}")
            continue
        try:
            theirs = job.tasks(key)
        except AssertionError as exc:
            problems.append(f"tutorial {key}: {exc}")
            continue
        differences = compare_runs(key, sfncompile_tasks(proc, root), theirs, DIFFERENCES)
        problems += [f"tutorial {key}: {d}" for d in differences]
    job.results()
    assert not problems, "\n".join(problems)
