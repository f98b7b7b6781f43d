"""Metaflow's command-line habits and plain run summaries: `resume FLOW.py` takes the latest
run, `--help` lists the flow's Parameters, `python flow.py dump|logs|check|show|card`, and
`show` says where and why a run failed (a failure @catch handled is a note, not a failure).
The runs (one caught failure, then one failed run) are shared by the module's tests; the
Step Functions side of `status` is checked on moto in tests/test_deploy.py."""

from __future__ import annotations

import json
import os
import pickle
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfncompile.cli import main
from sfncompile.cli.aws_commands import _flow_of_machine
from sfncompile.client.run_summary import LOG_TAIL
from sfncompile.deploy.run_status import execution_lines, plain_cause

FLOW = '''
import os
import sys

from sfncompile import FlowSpec, Parameter, catch, step


class HabitsFlow(FlowSpec):
    """Habits of Metaflow's command line."""

    alpha = Parameter("alpha", help="Learning rate", default=0.01)
    count = Parameter("count", help="How many", default=3, type=int)
    who = Parameter("who", help="Who runs it", required=True)

    @step
    def start(self):
        """Begin."""
        print("hello out")
        self.x = self.count
        self.next(self.middle)

    @catch(var="err")
    @step
    def middle(self):
        if self.who == "boom":
            raise ValueError("caught on purpose")
        self.next(self.end)

    @step
    def end(self):
        if self.who == "fail" and os.environ.get("BREAK"):
            for i in range(30):
                print(f"line {i}", file=sys.stderr)
            raise RuntimeError("broken on purpose")
        print("bye")


if __name__ == "__main__":
    HabitsFlow()
'''


def slow(test: Any) -> Any:
    """Runs flows or starts processes; one worker builds the module's runs."""
    return pytest.mark.slow(pytest.mark.xdist_group("cli-habits")(test))



def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFNCOMPILE_", "BREAK"))}
    return {**env, "USER": "ada", "METAFLOW_USER": "", "USERNAME": "", **extra}


def _sfn(where: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                          text=True, cwd=where, env=_env(**env), timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A run whose middle step's failure @catch handled, then a run that failed in `end`."""
    base = tmp_path_factory.mktemp("habits")
    (base / "flow.py").write_text(FLOW)
    root = str(base / "store")
    ids = {}
    for label, who, env in (("caught", "boom", {}), ("failed", "fail", {"BREAK": "1"})):
        proc = _sfn(base, "run", "flow.py", "--who", who, "--datastore-root", root, "--quiet",
                    **env)
        assert proc.returncode == (1 if label == "failed" else 0), proc.stderr
        ids[label] = proc.stdout.split()[-1]
    return {"base": str(base), "root": root, **ids}


@slow
def test_show_says_where_and_why_a_run_failed(runs: dict[str, str]) -> None:
    shown = _sfn(Path(runs["base"]), "show", runs["failed"], "--datastore-root", runs["root"])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{runs['failed']}: failed"
    assert "  failed step: end/2-0" in lines and "  error: RuntimeError: broken on purpose" in lines
    tail = [line for line in lines if line.startswith("    | ")]
    assert len(tail) == LOG_TAIL and tail[-1] == "    | RuntimeError: broken on purpose"
    assert "line 0" not in shown.stdout  # the start of the log is left to `logs`
    command = next(line for line in lines if line.startswith("  the whole log: "))
    assert command == (f"  the whole log: sfncompile logs {runs['failed']}/end/2-0 --stderr "
                       f"--datastore-root {runs['root']}")
    rest = _sfn(Path(runs["base"]), *shlex.split(command.split(": ", 1)[1])[1:])
    assert rest.returncode == 0 and "line 0\n" in rest.stdout, rest.stderr
    # The tasks in the order of the graph (the run record's graph is sorted by name).
    steps = [line.split("/")[0].strip() for line in lines if "-0: " in line]
    assert steps == ["start", "middle", "end"], lines


@slow
def test_show_json_prints_the_run_record(runs: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["show", runs["failed"], "--json", "--datastore-root",
                                       runs["root"]])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["failure"] == {"step": "end", "task": "2-0",
                                "error": "RuntimeError: broken on purpose"}
    assert shown["record"]["params"] == {"who": "fail"} and shown["status"] == "failed"


@slow
def test_a_failure_catch_handled_is_a_note(runs: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["show", runs["caught"], "--datastore-root", runs["root"]])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{runs['caught']}: succeeded"
    assert ("  note: middle/1-0 raised ValueError('caught on purpose'); @catch handled it and "
            "the run went on") in result.stdout.splitlines()
    assert "failed step" not in result.stdout and "error:" not in result.stdout


def _metaflow(base: Path) -> Path:
    """The same flow for Metaflow, in a directory of its own."""
    where = base / "metaflow"
    where.mkdir(exist_ok=True)
    (where / "flow.py").write_text(FLOW.replace("from sfncompile import", "from metaflow import"))
    return where


def _start(where: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "flow.py", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=where, env=_env(**env))


def _rows(help_text: str) -> dict[str, str]:
    """`--NAME TYPE` -> its help, default or [required], whitespace as one space."""
    rows = {}
    for line in help_text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("--alpha", "--count", "--who"):
            rows[" ".join(words[:2])] = " ".join(words[2:])
    return rows


def _script(base: Path, *args: str) -> Any:
    """`python flow.py ARGS`, in this process (the flow's module imported, its command line
    made as its `__main__` guard makes it)."""
    import importlib.util

    from sfncompile.cli.flow_entry import make_cli

    spec = importlib.util.spec_from_file_location("habits_flow", base / "flow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return CliRunner().invoke(make_cli(module.HabitsFlow, base / "flow.py"), list(args),
                              prog_name="flow.py")


@slow
def test_help_lists_the_parameters_as_metaflow(runs: dict[str, str]) -> None:
    base = Path(runs["base"])
    mf_home = str(base / "mf")
    metaflow = _start(_metaflow(base), "run", "--help", METAFLOW_HOME=mf_home,
                      METAFLOW_DATASTORE_SYSROOT_LOCAL=mf_home, USERNAME="ada")
    ours = CliRunner().invoke(main, ["run", str(base / "flow.py"), "--help"])
    expected = {"--alpha FLOAT": "Learning rate [default: 0.01]",
                "--count INTEGER": "How many [default: 3]", "--who TEXT": "Who runs it [required]"}
    assert _rows(ours.stdout) == expected, ours.stdout
    assert _rows(_script(base, "run", "--help").stdout) == expected
    assert _rows(metaflow.communicate(timeout=60)[0]) == expected


@slow
def test_python_flow_py_dump_logs_check_and_show(runs: dict[str, str]) -> None:
    base = Path(runs["base"])
    run_id = runs["failed"].split("/")[1]
    root = ["--datastore-root", runs["root"]]
    mf_home = str(base / "mf")
    mf_show = _start(_metaflow(base), "show", METAFLOW_HOME=mf_home,
                     METAFLOW_DATASTORE_SYSROOT_LOCAL=mf_home, USERNAME="ada")
    # Metaflow's show: the steps on stdout (the docstring on stderr), the same here.
    show = _script(base, "show")
    assert show.stdout == mf_show.communicate(timeout=60)[0] != ""
    assert show.stderr.strip() == "Habits of Metaflow's command line."
    check = _script(base, "check")
    assert check.exit_code == 0 and "The graph looks good!" in check.stderr
    # As Metaflow 2.19 dumps these values, the flow's name among them.
    dump = _script(base, *root, "dump", f"{run_id}/start")
    assert dump.stdout.splitlines() == [
        "alpha [size: 21 type: <class 'float'>] = 0.01",
        "count [size: 5 type: <class 'int'>] = 3",
        "name [size: 25 type: <class 'str'>] = HabitsFlow",
        "who [size: 19 type: <class 'str'>] = fail",
        "x [size: 5 type: <class 'int'>] = 3"], dump.output
    assert f"Dumping output of run_id={run_id} step=start task_id=0" in dump.stderr
    one = _script(base, *root, "dump", f"{run_id}/start/0-0", "--include", "x",
                  "--max-value-size", "0")
    assert one.stdout == "x [size: 5 type: <class 'int'>] = < artifact too large >\n"
    to_file = _script(base, *root, "dump", f"{run_id}/start", "--file", str(base / "out.pkl"))
    assert to_file.exit_code == 0, to_file.output
    assert pickle.loads((base / "out.pkl").read_bytes()) == {
        f"{run_id}/start/0-0": {"alpha": 0.01, "count": 3, "name": "HabitsFlow", "who": "fail",
                                "x": 3}}
    assert _script(base, *root, "logs", f"{run_id}/start", "--stdout").stdout == "hello out\n"
    stderr = _script(base, *root, "logs", f"{run_id}/end/2-0", "--stderr").stdout
    assert "RuntimeError: broken on purpose" in stderr and "hello" not in stderr
    for args, message in ((["logs", run_id], "give RUN/STEP or RUN/STEP/TASK"),
                          (["card", "list", f"{run_id}/start"], "has no card"),
                          (["run", "--who", "x", "--count", "abc"], "parameter 'count' (int)")):
        refused = _script(base, *root, *args)
        assert refused.exit_code == 2 and message in refused.stderr, (args, refused.output)


@slow
def test_resume_flow_py_takes_the_latest_run(runs: dict[str, str]) -> None:
    """Last in the module: it adds a run. Without BREAK, the failed `end` now succeeds."""
    resumed = _sfn(Path(runs["base"]), "resume", "flow.py", "--datastore-root", runs["root"],
                   "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming {runs['failed']} from step 'end'" in resumed.stderr


def test_status_names_a_project_flows_flow_and_a_batch_jobs_reason() -> None:
    assert _flow_of_machine("ml-proj-user-ada-TrainFlow", "ml-") == "TrainFlow"
    assert _flow_of_machine("ml-TrainFlow", "ml-") == "TrainFlow"
    job = {"JobId": "j-1", "StatusReason": "Essential container in task exited (1)",
           "Parameters": {"step": "train", "task": "3", "attempt": "0"},
           "Container": {"LogStreamName": "s/1", "Command": ["python3", "-c", "x" * 5000]}}
    assert plain_cause(json.dumps(job)) == [
        "reason: Essential container in task exited (1) (task train/3, attempt 0)",
        "batch job: j-1, log stream s/1"]
    assert plain_cause('{"errorMessage": "no such key", "trace": ["x"]}') == [
        "cause: no such key"]
    assert plain_cause("x" * 1000)[0].endswith("...")
    done = {"status": "SUCCEEDED", "failed_steps": ["flaky"], "cause": json.dumps(job)}
    assert execution_lines(done) == [
        "note: step flaky had a failed attempt (Essential container in task exited (1) (task "
        "train/3, attempt 0)); @retry ran it again or @catch handled it, and the run "
        "succeeded"]
    assert execution_lines({**done, "status": "FAILED"})[0] == "failed step: flaky"
