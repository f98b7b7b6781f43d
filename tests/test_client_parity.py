"""sfncompile's client reads a run as Metaflow 2.19's client does: the same flows run under
both tools, and each tool's client is walked from Flow to Run, Step, Task and DataArtifact
(tests/parity/client_walk.py) into flat facts that are compared one by one.

The runs: @catch (catch_wrapper, run with a tag), a foreach inside a split (foreach_in_split),
a foreach whose item fails (client_flows/failing_foreach.py with FAIL_ITEM=1), and that failed
run resumed.
Metaflow runs them in one background process (tests/parity/metaflow_driver.py, which also
walks its client) while sfncompile runs them; sfncompile alone also runs a nested foreach
(foreach_nested), whose lineage is checked against what Metaflow's client gives for it.

What may differ is declared, nothing else: the walk itself replaces ids, times and paths
(NORMALISED), and tests/parity/client_compare.py names each behaviour where sfncompile's
client or runtime differs from Metaflow's. tests/test_parity.py walks every run of the
parity corpus the same way; these runs add a failed run, its resume and a nested foreach.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import sfncompile
from sfncompile import client
from sfncompile.exception import MetaflowNotFound
from tests.parity.client_compare import DIFFERENCES, compare_facts
from tests.parity.client_walk import Facts
from tests.parity.corpus import FLOWS
from tests.parity.harness import MetaflowJob, MetaflowRun, walk_ours
from tests.parity.metaflow_env import user_env

# Slow (tests/conftest.py); one worker runs the module, whose tests share its runs.
pytestmark = pytest.mark.xdist_group("client-parity")

FAILING = FLOWS.parent / "client_flows" / "failing_foreach.py"
FAIL = {"FAIL_ITEM": "1"}
ONE_WORKER = ["--max-workers", "1"]  # the failing run: its tasks in order, none after the failure
TAGGED = {"catch": ["--tag", "parity-tag"]}  # run options given to both tools
# role -> (flow file, the corpus name its artifacts' differences are declared under)
RUNS = {
    "failing": (FAILING, "failing_foreach"),  # first: the resume waits for it
    "catch": (FLOWS / "catch_wrapper.py", "catch_wrapper"),
    "split": (FLOWS / "foreach_in_split.py", "foreach_in_split"),
    "resumed": (FAILING, "failing_foreach"),
}
NESTED = FLOWS / "foreach_nested.py"  # run by sfncompile only: Metaflow's 11 tasks cost 6 s

# What the walk records in place of what cannot be equal between two tools.
NORMALISED = {
    "ids": "a run id is the role of the run (RUNS), a task id the task's step and foreach "
           "index stack, an `origin-task-id` a placeholder",
    "times": "created_at, finished_at, a log line's and a metadata event's time: their types",
    "paths": "`ds-root` (each tool's own datastore directory): a placeholder",
}


# -- the runs --------------------------------------------------------------------------------


def _sfncompile(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sfncompile", *args], cwd=cwd,
                            env=user_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _pathspec(proc: subprocess.Popen[str], want_success: bool) -> str:
    out, err = proc.communicate(timeout=300)
    assert (proc.returncode == 0) == want_success, f"sfncompile: {out}\n{err}"
    return out.strip().splitlines()[-1]


def run_ours(root: Path) -> dict[str, str]:
    """role -> pathspec of sfncompile's runs, all but the resume at once."""
    common = ["--datastore-root", str(root), "--max-workers", "4"]
    files = {role: file for role, (file, _) in RUNS.items() if role != "resumed"}
    procs = {role: _sfncompile(["run", str(file), *common, *TAGGED.get(role, ()),
                                *(ONE_WORKER if role == "failing" else [])],
                               file.parent, FAIL if role == "failing" else {})
             for role, file in {**files, "nested": NESTED}.items()}
    runs = {role: _pathspec(proc, role != "failing") for role, proc in procs.items()}
    resume = _sfncompile(["resume", runs["failing"], *common], FAILING.parent, {})
    runs["resumed"] = _pathspec(resume, True)
    return runs


class Both(NamedTuple):
    root: Path  # sfncompile's datastore
    runs: dict[str, str]  # role -> sfncompile's pathspec
    ours: dict[str, Facts]
    theirs: dict[str, Facts]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Both:
    """Both tools' runs and what their clients say of them, by role."""
    job = MetaflowJob([
        *(MetaflowRun(role, file, ONE_WORKER, env=FAIL) if role == "failing"
          else MetaflowRun(role, file, TAGGED.get(role, ())) for role, (file, _) in RUNS.items()
          if role != "resumed"),
        MetaflowRun("resumed", FAILING, command="resume", after_previous=True),
    ], tmp_path_factory.mktemp("metaflow-client"), walk=True)
    root = tmp_path_factory.mktemp("sfncompile-client")
    runs = run_ours(root)
    ours = walk_ours(root, runs)
    results = job.results()
    theirs = {}
    for role, result in results.items():
        assert "walk" in result, f"Metaflow's client could not walk {role}: " \
            f"{result.get('client_error')}\n{result['output']}"
        theirs[role] = result["walk"]
    return Both(root, runs, ours, theirs)


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(RUNS))  # not nested: Metaflow does not run it here
def test_the_client_reads_each_run_as_metaflows_does(role: str, both: Both) -> None:
    problems = compare_facts(role, RUNS[role][1], both.ours[role], both.theirs[role])
    assert not problems, f"{role}: differs from Metaflow 2.19's client:\n  " + \
        "\n  ".join(problems)


def test_every_declared_difference_is_needed(both: Both) -> None:
    used: set[str] = set()
    for role in RUNS:
        compare_facts(role, RUNS[role][1], both.ours[role], both.theirs[role], used)
    assert {d.name for d in DIFFERENCES if d.always} <= used <= {d.name for d in DIFFERENCES}


def test_what_the_walk_covers(both: Both) -> None:
    """The facts that matter are there: a failed task with its exception, a caught one, the
    foreach index stacks and lineage, and a resumed run's origins."""
    ours = both.ours
    failing, resumed = ours["failing"], ours["resumed"]
    assert failing["run.successful"] is False and failing["run.finished"] is False
    assert failing["step[work].tasks"] == ["work[0]", "work[1]"]  # item 2 never started
    failed = "task[work[1]]"
    assert (failing[f"{failed}.successful"], failing[f"{failed}.finished"]) == (False, False)
    assert failing[f"{failed}.exception"] == {
        "class": "MetaflowExceptionWrapper", "type": "builtins.ValueError",
        "exception": "zero is not allowed", "last line": ["ValueError: zero is not allowed"]}
    assert failing[f"{failed}.finished_at"] == "datetime"
    # what it held when it failed, and the flow's name
    assert failing[f"{failed}.artifacts"] == ["items", "name", "seen"]
    assert failing[f"{failed}.stdout"] == "working on 0\n"
    assert failing[f"{failed}.parents"] == ["start[]"] and failing[f"{failed}.children"] == []
    assert failing["task[start[]].children"] == ["work[0]", "work[1]"]
    meta = failing[f"{failed}.metadata_dict"]
    assert (meta["attempt"], meta["attempt_ok"], meta["origin-run-id"]) == ("0", "False", "None")
    assert ours["catch"]["task[start[]].successful"] is False
    assert ours["catch"]["task[start[]].finished"] is True
    assert ours["catch"]["task[start[]].exception"] is None
    # What Metaflow's client gives for the nested foreach (read from a Metaflow run of it).
    nested = ours["nested"]
    assert nested["run.steps"] == ["end", "join_rows", "join_cols", "cell", "row", "start"]
    assert nested["task[join_cols[1]].parents"] == ["cell[1, 0]", "cell[1, 1]"]
    assert nested["task[join_cols[0]].children"] == ["join_rows[]"]
    assert nested["task[join_rows[]].parents"] == ["join_cols[0]", "join_cols[1]"]
    assert nested["task[row[1]].children"] == ["cell[1, 0]", "cell[1, 1]"]
    assert nested["task[start[]].children"] == ["row[0]", "row[1]"]
    assert [nested[f"task[{k}].index"] for k in ("cell[1, 0]", "join_cols[1]", "row[0]",
                                                 "join_rows[]")] == [0, 1, 0, None]
    assert resumed["run.origin"] == ["FailingForeachFlow", "failing"]
    assert resumed["task[start[]].origin"] == ["FailingForeachFlow", "failing", "start",
                                               "start[]"]
    assert resumed["task[start[]].metadata_dict"]["origin-task-id"] == "<a task id>"
    assert resumed["task[end[]].metadata_dict"]["origin-run-id"] == "failing"
    assert resumed["flow.runs"] == ["resumed", "failing"]
    # The resume reused the failed step's task that succeeded, and ran the others again.
    assert resumed["task[work[0]].origin"] == ["FailingForeachFlow", "failing", "work",
                                               "work[0]"]
    assert resumed["task[work[1]].origin"] is None and resumed["task[work[2]].origin"] is None
    # Tags: a tagged run's steps and tasks carry its tags; a flow with no run in the
    # namespace is a mismatch.
    assert ours["catch"]["run.user_tags"] == ["parity-tag"]
    assert ours["catch"]["task[start[]].user_tags"] == ["parity-tag"]
    assert ours["catch"]["task[start[]].tags are the run's"] is True
    assert failing["probe.Flow(elsewhere)"] == {"raises": ["MetaflowNamespaceMismatch"]}


def test_a_run_without_its_graph_has_the_same_lineage(both: Both, tmp_path: Path) -> None:
    """An execution's record has no step graph: parents and children then come from what
    the tasks recorded, and are the same."""
    flow, run_id = both.runs["nested"].split("/")
    shutil.copytree(both.root / flow, tmp_path / flow)
    record = tmp_path / flow / run_id / "_run.json"
    meta = json.loads(record.read_text())
    del meta["graph"]
    record.write_text(json.dumps(meta))
    without = walk_ours(tmp_path, {"nested": both.runs["nested"]})["nested"]
    lineage = re.compile(r"\.(parents|children|parent_steps|child_steps)$")
    assert {k: v for k, v in without.items() if lineage.search(k)} == \
        {k: v for k, v in both.ours["nested"].items() if lineage.search(k)}


def test_metaflow_names_and_errors(tmp_path: Path) -> None:
    assert sfncompile.Metaflow is client.Metaflow  # `from metaflow import Metaflow`
    client.set_datastore_root(str(tmp_path))
    try:
        assert client.Metaflow().flows == []
        with pytest.raises(MetaflowNotFound, match=r"Flow\('Nope'\) does not exist"):
            client.Flow("Nope")
    finally:
        client.set_datastore_root(None)
