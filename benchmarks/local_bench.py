"""The local runner's costs, and how it compares with Metaflow's own local runner.

    python benchmarks/local_bench.py [--runs 3] [--wide 100:2,100:8,1000:8] [--wide-runs 1]
                                     [--metaflow-python PATH] [--heavy-venv DIR]

  (a) per-task overhead: a linear flow of 50+ steps through `sfncompile run`, with the median
      wall time of a task as the runner sees it and of the step inside the task (target: under
      10 ms); and the cold start of one task through `python -m sfncompile.runtime`, as a
      Batch container pays it
  (b) a foreach of trivial steps, end to end through `sfncompile run`, for each WIDTH:WORKERS
      of --wide
  (c) save and load of a 256 MiB artifact (benchmarks/artifact_bench.py): throughput and peak
      RSS, which must stay under 2.5x the artifact
  (d) the flows of (b) with `from metaflow import`, through `python flow.py run` of the real
      Metaflow 2.19, in a venv outside the repository (/tmp/mfvenv, else /tmp/mf-venv, made
      with `pip install 'metaflow==2.19.*'` when missing, unless --metaflow-python names a
      Python that has Metaflow), run by run alternating with (b) so both see the same load.
      Targets: Metaflow takes at least 25x as long at width 100 and 30x at width 1,000; and
      the runner's overhead per task of a 1,000-wide foreach at 2 workers, (wall - the
      tasks' own time / workers) / tasks, is at most 10 ms
  (e) an import-heavy foreach: a flow whose module imports pandas and scikit-learn and whose
      100 body tasks each fit a small model, under `sfncompile run` and Metaflow's
      `python flow.py run`, both from one venv (--heavy-venv, made when missing with
      `python3 -m venv` and pip installing pandas, scikit-learn, this Python's Metaflow
      version and sfncompile from this tree; sfncompile runs with this tree on PYTHONPATH),
      alternating run by run; the artifacts of both runs must be equal. Target: Metaflow
      takes at least 8x as long.

Every end-to-end number is the median of --runs runs (--wide-runs for foreach wider than
100: Metaflow needs minutes for one), each on a fresh datastore. The exit code is 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = (Path("/tmp/mfvenv"), Path("/tmp/mf-venv"))  # the first one with Metaflow is used
METAFLOW_REQUIREMENT = "metaflow==2.19.*"
PEAK_LIMIT = 2.5  # peak RSS / artifact size
IN_TASK_LIMIT = 0.010  # seconds, the median step inside a trivial task


OVERHEAD_LIMIT = 0.010  # seconds of runner overhead per task, 1,000-wide at 2 workers
HEAVY_TARGET = 8.0  # Metaflow time / sfncompile time at least, import-heavy foreach
HEAVY_VENV = Path("/tmp/sfn-heavy-venv")
# KEEP_DATASTORES: every run's datastore stays until the benchmark ends (its temporary
# directory goes then). Deleting one right after its run made the next run (of either tool)
# slower than any user's: ext4 then skips the thousands of inodes it just freed each time it
# allocates one, which doubled sfncompile's system time in a 100-wide foreach (2026-12-07).


def ratio_target(width: int) -> float:
    """Metaflow time / sfncompile time at least."""
    return 30.0 if width >= 1000 else 25.0

WIDE_FLOW = """\
from {module} import FlowSpec, Parameter, step


class WideFlow(FlowSpec):
    width = Parameter("width", default=100, type=int)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.out = self.input + 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    WideFlow()
"""


def linear_flow(steps: int) -> str:
    """start -> s1 -> ... -> s<steps> -> end, each step adding one to an artifact."""
    names = ["start", *(f"s{i}" for i in range(1, steps + 1)), "end"]
    lines = ["from sfncompile import FlowSpec, step", "", "", "class LinearFlow(FlowSpec):"]
    for name, nxt in zip(names, [*names[1:], None], strict=True):
        body = "self.x = 0" if name == "start" else "self.x += 1"
        lines += ["    @step", f"    def {name}(self):", f"        {body}"]
        if nxt:
            lines.append(f"        self.next(self.{nxt})")
        lines.append("")
    return "\n".join(lines)


@dataclass
class Row:
    what: str
    value: str
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, what: str, value: str, note: str = "") -> None:
        self.rows.append(Row(what, value, note))
        print(f"  {what}: {value}  {note}".rstrip(), file=sys.stderr, flush=True)

    def print(self, header: Sequence[str]) -> None:
        width = max(len(r.what) for r in self.rows)
        vwidth = max(len(r.value) for r in self.rows)
        print()
        for line in header:
            print(line)
        print()
        print(f"{'measurement'.ljust(width)}  {'median'.rjust(vwidth)}  note")
        print(f"{'-' * width}  {'-' * vwidth}  {'-' * 30}")
        for r in self.rows:
            print(f"{r.what.ljust(width)}  {r.value.rjust(vwidth)}  {r.note}".rstrip())
        print()
        for failure in self.failures:
            print(f"TARGET MISSED: {failure}")
        if not self.failures:
            print("all targets met")


def timed(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    began = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - began
    if check and proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc


def children_cpu() -> float:
    """CPU seconds of every waited-for descendant so far: the runner, and under it Metaflow's
    task processes or sfncompile's fork server and its tasks."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sfn_run(flow: Path, root: Path, workers: int,
            *extra: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    return timed([sys.executable, "-m", "sfncompile", "run", str(flow), "--datastore-root",
                  str(root), "--max-workers", str(workers), *extra])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


# ------------------------------------------------------------------------------- (a)


def bench_overhead(tmp: Path, steps: int, runs: int, report: Report) -> None:
    flow = tmp / "linear_flow.py"
    flow.write_text(linear_flow(steps), encoding="utf-8")
    tasks = steps + 2
    walls, runner_medians, inside_medians, cpu_medians, last = [], [], [], [], None
    for i in range(runs):
        root = tmp / f"linear{i}"
        wall, proc = sfn_run(flow, root, 1, "--verbose")  # --verbose: a line per task's end
        pathspec = proc.stdout.strip().splitlines()[-1]
        walls.append(wall)
        seen = [float(m) for m in re.findall(r": done in ([0-9.]+)s", proc.stderr)]
        assert len(seen) == tasks, f"expected {tasks} task lines, got {len(seen)}"
        runner_medians.append(statistics.median(seen))
        inside, cpu = [], []
        for done in (root / pathspec).glob("*/*/*/done.json"):
            data = json.loads(done.read_text())
            inside.append(data["finished"] - data["started"])
            cpu.append(data["cpu_seconds"])
        inside_medians.append(statistics.median(inside))
        cpu_medians.append(statistics.median(cpu))
        last = (root, pathspec)
    wall = statistics.median(walls)
    report.add(f"(a) linear flow, {tasks} tasks, end to end", f"{wall:.2f} s",
               f"{ms(wall / tasks)} per task, CLI and first fork included")
    report.add("(a) per task, as the runner sees it", ms(statistics.median(runner_medians)),
               "fork from the preloaded server to exit, median task")
    inside = statistics.median(inside_medians)
    report.add("(a) per task, inside the task", ms(inside),
               f"done.json finished - started: load flow, inputs, step, save; target < "
               f"{ms(IN_TASK_LIMIT)}")
    report.add("(a) per task, CPU inside the task", ms(statistics.median(cpu_medians)),
               "done.json cpu_seconds: the same span in CPU time, which a loaded machine "
               "inflates far less")
    if inside >= IN_TASK_LIMIT:
        report.failures.append(f"(a) inside a task: {ms(inside)}, target < {ms(IN_TASK_LIMIT)}")
    assert last is not None
    bench_cold_start(tmp, *last, runs=max(runs, 5), report=report)


def bench_cold_start(tmp: Path, root: Path, pathspec: str, runs: int, report: Report) -> None:
    """One task through `python -m sfncompile.runtime`, in a new interpreter each time."""
    flow_name, run_id = pathspec.split("/")
    meta = json.loads((root / flow_name / run_id / "_run.json").read_text())
    graph = tmp / "graph.json"
    graph.write_text(json.dumps(meta["graph"]), encoding="utf-8")
    times = []
    for i in range(runs):
        argv = [sys.executable, "-m", "sfncompile.runtime", "--step", "start", "--run",
                f"cold-{i}", "--task", "0", "--root", str(root), "--graph", str(graph),
                "--flow-file", meta["flow_file"], "--params", "{}"]
        times.append(timed(argv)[0])
    report.add("(a) cold start: python -m sfncompile.runtime", ms(statistics.median(times)),
               f"one start task in a new interpreter, {runs} runs")
    bare = [timed([sys.executable, "-c", "pass"])[0] for _ in range(runs)]
    report.add("(a)   of which a bare python -c pass", ms(statistics.median(bare)))
    imports = [timed([sys.executable, "-c", "import sfncompile.runtime.task"])[0]
               for _ in range(runs)]
    report.add("(a)   of which import sfncompile.runtime.task", ms(statistics.median(imports)),
               "python startup included")


# ------------------------------------------------------------------------------- (b), (d)


class SfnForeach:
    """(b): the wide flow through `sfncompile run`, one run per call, checked through the
    client."""

    def __init__(self, tmp: Path, width: int, workers: int) -> None:
        self.tmp, self.width, self.workers = tmp, width, workers
        self.flow = tmp / f"sfn_wide_{width}_{workers}" / "wide_flow.py"
        self.flow.parent.mkdir()
        self.flow.write_text(WIDE_FLOW.format(module="sfncompile"), encoding="utf-8")
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.own: list[float] = []  # the tasks' own time (done.json), summed over a run

    def run_once(self) -> None:
        from sfncompile import client

        root = self.flow.parent / f"run{len(self.times)}"
        cpu = children_cpu()
        seconds, proc = sfn_run(self.flow, root, self.workers, "--param", f"width={self.width}")
        self.cpu.append(children_cpu() - cpu)
        client.set_datastore_root(str(root))
        try:
            data = client.Run(proc.stdout.strip().splitlines()[-1]).data
            assert data is not None and data.total == self.width * (self.width + 1) // 2
        finally:
            client.set_datastore_root(None)
        self.times.append(seconds)
        self.own.append(sum(own_seconds(root.glob("*/*/*/*/*/done.json"))))
        # Kept until the benchmark ends (KEEP_DATASTORES says why).

    def report(self, report: Report) -> float:
        median = statistics.median(self.times)
        report.add(f"(b) sfncompile run, {self.width}-wide foreach", f"{median:.2f} s",
                   f"{self.width + 3} tasks, --max-workers {self.workers}, "
                   f"runs {fmt_runs(self.times)}; CPU {statistics.median(self.cpu):.2f} s")
        tasks = self.width + 3
        overhead = statistics.median((wall - own / self.workers) / tasks
                                     for wall, own in zip(self.times, self.own, strict=True))
        report.add(f"(b) runner overhead per task, {self.width}-wide, {self.workers} workers",
                   ms(overhead), f"(wall - tasks' own time / workers) / tasks; own time "
                   f"{ms(statistics.median(self.own) / tasks)} per task")
        if self.width >= 1000 and self.workers == 2 and overhead > OVERHEAD_LIMIT:
            report.failures.append(f"(b) runner overhead {ms(overhead)} per task, target "
                                   f"<= {ms(OVERHEAD_LIMIT)}")
        return median


def own_seconds(dones: Iterable[Path]) -> list[float]:
    """Each committed task's own time: done.json finished - started."""
    spans = []
    for done in dones:
        data = json.loads(done.read_text())
        spans.append(data["finished"] - data["started"])
    return spans


def fmt_runs(times: list[float]) -> str:
    return "/".join(f"{t:.1f}" for t in times)


def metaflow_python(given: str | None) -> Path:
    if given:
        return Path(given)
    for venv in VENVS:
        python = venv / "bin" / "python"
        if python.exists() and subprocess.run([str(python), "-c", "import metaflow"],
                                              capture_output=True).returncode == 0:
            return python
    venv = VENVS[0]
    print(f"creating {venv} with {METAFLOW_REQUIREMENT}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", METAFLOW_REQUIREMENT], check=True)
    return python


class MetaflowForeach:
    """(d): the same flow with `from metaflow import`, through Metaflow's own local runner."""

    def __init__(self, tmp: Path, python: Path, width: int, workers: int) -> None:
        self.tmp, self.python, self.width, self.workers = tmp, python, width, workers
        self.flow = tmp / f"mf_wide_{width}_{workers}" / "wide_flow.py"
        self.flow.parent.mkdir()
        self.flow.write_text(WIDE_FLOW.format(module="metaflow"), encoding="utf-8")
        self.version = subprocess.run(
            [str(python), "-c", "import metaflow; print(metaflow.__version__)"],
            capture_output=True, text=True, check=True).stdout.strip()
        self.times: list[float] = []
        self.cpu: list[float] = []

    def run_once(self) -> None:
        sysroot = self.flow.parent / f"run{len(self.times)}"
        env = os.environ | {
            "USERNAME": "bench",
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot),
        }
        cpu = children_cpu()
        seconds, proc = timed([str(self.python), str(self.flow), "--no-pylint", "run",
                               "--max-workers", str(self.workers), "--width", str(self.width),
                               "--max-num-splits", str(max(100, self.width))],
                              env=env, cwd=self.flow.parent)
        self.cpu.append(children_cpu() - cpu)
        total = self.width * (self.width + 1) // 2
        assert f"total {total}" in proc.stdout + proc.stderr, "Metaflow's run printed no total"
        self.times.append(seconds)  # its datastore is kept: KEEP_DATASTORES

    def report(self, report: Report) -> float:
        median = statistics.median(self.times)
        report.add(f"(d) Metaflow {self.version} run, {self.width}-wide foreach",
                   f"{median:.2f} s", f"python flow.py run --max-workers {self.workers}, "
                   f"runs {fmt_runs(self.times)}; CPU {statistics.median(self.cpu):.2f} s")
        return median


# ------------------------------------------------------------------------------- (c)


def bench_artifact(size_mib: int, runs: int, report: Report) -> None:
    argv = [sys.executable, str(HERE / "artifact_bench.py"), "--size-mib", str(size_mib),
            "--runs", str(runs)]
    _, proc = timed(argv)
    pattern = r"^{}: median +([0-9.]+) MiB/s wall, +([0-9.]+) CPU-s .*" \
              r"peak RSS +([0-9.]+) MiB = ([0-9.]+)x the artifact$"
    for what in ("save", "load"):
        match = re.search(pattern.format(what), proc.stdout, re.MULTILINE)
        if match is None:
            sys.exit(f"cannot read artifact_bench.py's output:\n{proc.stdout}")
        speed, cpu, peak, ratio = match.groups()
        report.add(f"(c) {what} a {size_mib} MiB artifact", f"{float(speed):.0f} MiB/s",
                   f"{cpu} CPU-s; peak RSS {float(peak):.0f} MiB = {ratio}x the artifact "
                   f"(limit {PEAK_LIMIT}x)")
        if float(ratio) >= PEAK_LIMIT:
            report.failures.append(f"(c) {what}: peak RSS {ratio}x the artifact, limit "
                                   f"{PEAK_LIMIT}x")
    stored = re.search(r"^artifact: .*, (stored blob .*)$", proc.stdout, re.MULTILINE)
    if stored:
        report.add("(c) artifact", f"{size_mib} MiB", stored.group(1))


# ------------------------------------------------------------------------------- (e)

HEAVY_FLOW = """\
import json

import pandas
import sklearn  # noqa: F401
from sklearn.linear_model import LogisticRegression

from metaflow import FlowSpec, Parameter, step


class HeavyFlow(FlowSpec):
    width = Parameter("width", default=100, type=int)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        n = self.input
        frame = pandas.DataFrame({"x": [float(i % 7 + n % 5) for i in range(40)],
                                  "y": [(i + n) % 2 for i in range(40)]})
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        self.score = round(float(model.score(frame[["x"]], frame["y"])), 6)
        self.coef = round(float(model.coef_[0][0]), 6)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.scores = sorted([i.input, i.score, i.coef] for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("scores", json.dumps(self.scores))


if __name__ == "__main__":
    HeavyFlow()
"""

READ_SCORES = """\
import json, sys
from metaflow import Run, namespace
namespace(None)
print(json.dumps(Run(sys.argv[1]).data.scores))
"""


def heavy_venv(venv: Path) -> Path:
    """The venv of (e): pandas, scikit-learn, this Python's Metaflow and sfncompile."""
    python = venv / "bin" / "python"
    probe = "import pandas, sklearn, metaflow, sfncompile"
    if python.exists() and subprocess.run([str(python), "-c", probe],
                                          capture_output=True).returncode == 0:
        return python
    import metaflow

    print(f"creating {venv}: pandas, scikit-learn, metaflow=={metaflow.__version__}, "
          "sfncompile", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "pandas", "scikit-learn",
                    f"metaflow=={metaflow.__version__}", str(HERE.parent)], check=True)
    return python


class HeavyForeach:
    """(e): the import-heavy flow under one runner, one run per call; the run's `scores`."""

    def __init__(self, tmp: Path, python: Path, width: int, workers: int, sfn: bool) -> None:
        self.python, self.width, self.workers, self.sfn = python, width, workers, sfn
        self.flow = tmp / f"heavy_{'sfn' if sfn else 'mf'}_{width}" / "heavy_flow.py"
        self.flow.parent.mkdir()
        self.flow.write_text(HEAVY_FLOW, encoding="utf-8")
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.scores: list[object] = []

    def run_once(self) -> None:
        root = self.flow.parent / f"run{len(self.times)}"
        run_id_file = self.flow.parent / "run_id"
        env = os.environ | {"USERNAME": "bench", "METAFLOW_DEFAULT_DATASTORE": "local",
                            "METAFLOW_DEFAULT_METADATA": "local",
                            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root)}
        if self.sfn:  # this tree, not the copy installed in the venv
            env["PYTHONPATH"] = str(HERE.parent)
            argv = [str(self.python), "-m", "sfncompile", "run", str(self.flow),
                    "--datastore-root", str(root), "--max-workers", str(self.workers),
                    "--run-id-file", str(run_id_file), "--param", f"width={self.width}"]
        else:
            argv = [str(self.python), str(self.flow), "--no-pylint", "run", "--max-workers",
                    str(self.workers), "--width", str(self.width), "--run-id-file",
                    str(run_id_file), "--max-num-splits", str(max(100, self.width))]
        cpu = children_cpu()
        seconds, _ = timed(argv, env=env, cwd=self.flow.parent)
        self.cpu.append(children_cpu() - cpu)
        self.times.append(seconds)
        pathspec = f"HeavyFlow/{run_id_file.read_text().strip()}"
        if self.sfn:
            from sfncompile import client

            client.set_datastore_root(str(root))
            try:
                data = client.Run(pathspec).data
                assert data is not None
                self.scores.append(data.scores)
            finally:
                client.set_datastore_root(None)
        else:
            _, proc = timed([str(self.python), "-c", READ_SCORES, pathspec], env=env,
                            cwd=self.flow.parent)
            self.scores.append(json.loads(proc.stdout))
        # its datastore is kept: KEEP_DATASTORES

    def report(self, report: Report) -> float:
        median = statistics.median(self.times)
        who = "sfncompile run" if self.sfn else "Metaflow python flow.py run"
        report.add(f"(e) {who}, import-heavy {self.width}-wide foreach", f"{median:.2f} s",
                   f"--max-workers {self.workers}, runs {fmt_runs(self.times)}; CPU "
                   f"{statistics.median(self.cpu):.2f} s")
        return median


def bench_heavy(tmp: Path, venv: Path, width: int, workers: int, runs: int,
                report: Report, header: list[str]) -> None:
    python = heavy_venv(venv)
    versions = subprocess.run(
        [str(python), "-c", "import metaflow, pandas, sklearn; print(metaflow.__version__, "
         "pandas.__version__, sklearn.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    header.append(f"(e) venv {venv}: Metaflow {versions[0]}, pandas {versions[1]}, "
                  f"scikit-learn {versions[2]}")
    pair = [HeavyForeach(tmp, python, width, workers, sfn=True),
            HeavyForeach(tmp, python, width, workers, sfn=False)]
    for i in range(runs):
        for runner in pair:
            print(f"  (e) {'sfncompile' if runner.sfn else 'Metaflow'} import-heavy "
                  f"{width}-wide, {workers} workers: run {i + 1}/{runs}", file=sys.stderr,
                  flush=True)
            runner.run_once()
    sfn, mf = (runner.report(report) for runner in pair)
    expected = pair[1].scores[0]
    same = all(scores == expected for runner in pair for scores in runner.scores)
    report.add("(e) artifacts equal", "yes" if same else "NO",
               f"`scores` of every run of both runners ({len(expected)} tasks' results)")
    if not same:
        report.failures.append("(e) the runs' artifacts differ")
    ratio = mf / sfn
    cpu_ratio = statistics.median(pair[1].cpu) / statistics.median(pair[0].cpu)
    report.add(f"(e) import-heavy {width}-wide, {workers} workers: Metaflow / sfncompile",
               f"{ratio:.1f}x", f"target >= {HEAVY_TARGET:.0f}x (wall); CPU time "
               f"{cpu_ratio:.1f}x")
    if ratio < HEAVY_TARGET:
        report.failures.append(f"(e) import-heavy: Metaflow is only {ratio:.1f}x slower "
                               f"(target {HEAVY_TARGET:.0f}x)")


# ------------------------------------------------------------------------------- main


def parse_wide(text: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(x) for x in item.split(":")) for item in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError("expected WIDTH:WORKERS[,WIDTH:WORKERS...]")
    return [(p[0], p[1]) for p in pairs]


def bench_foreach(tmp: Path, wide: list[tuple[int, int]], runs: int, wide_runs: int,
                  metaflow: Path | None, report: Report, header: list[str]) -> None:
    """(b) and (d), alternating run by run, so that both see the same load on the machine."""
    for width, workers in wide:
        pair: list[SfnForeach | MetaflowForeach] = [SfnForeach(tmp, width, workers)]
        if metaflow is not None:
            mf = MetaflowForeach(tmp, metaflow, width, workers)
            pair.append(mf)
            line = f"Metaflow {mf.version} at {metaflow}"
            if line not in header:
                header.append(line)
        count = runs if width <= 100 else wide_runs
        for i in range(count):
            for runner in pair:
                print(f"  {type(runner).__name__} {width}-wide, {workers} workers: run "
                      f"{i + 1}/{count}", file=sys.stderr, flush=True)
                runner.run_once()
        medians = [runner.report(report) for runner in pair]
        if len(medians) == 2:
            ratio, target = medians[1] / medians[0], ratio_target(width)
            cpu_ratio = statistics.median(pair[1].cpu) / statistics.median(pair[0].cpu)
            report.add(f"(d)/(b) {width}-wide, {workers} workers: Metaflow / sfncompile",
                       f"{ratio:.1f}x", f"target >= {target:.0f}x (wall); CPU time "
                       f"{cpu_ratio:.1f}x")
            if ratio < target:
                report.failures.append(f"(d)/(b) {width}-wide, {workers} workers: Metaflow "
                                       f"is only {ratio:.1f}x slower (target {target:.0f}x)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3, help="runs per end-to-end median (>= 3)")
    p.add_argument("--wide", type=parse_wide, default=parse_wide("100:2,100:8,1000:8"),
                   help="foreach widths and worker counts of (b) and (d)")
    p.add_argument("--wide-runs", type=int, default=1,
                   help="runs for a foreach wider than 100 (Metaflow takes minutes)")
    p.add_argument("--steps", type=int, default=50, help="middle steps of the linear flow")
    p.add_argument("--size-mib", type=int, default=256)
    p.add_argument("--metaflow-python", metavar="PATH",
                   help=f"a Python with Metaflow installed (default: {VENVS[0]})")
    p.add_argument("--heavy-venv", type=Path, default=HEAVY_VENV, metavar="DIR",
                   help=f"the venv of (e), made when missing (default: {HEAVY_VENV})")
    p.add_argument("--heavy-width", type=int, default=100)
    p.add_argument("--heavy-workers", type=int, default=2)
    p.add_argument("--only", default="abcde", help="which parts to run, e.g. 'bd'")
    args = p.parse_args(argv)
    if args.runs < 3:
        p.error("--runs must be at least 3: every end-to-end number is a median")
    report = Report()
    header = [
        f"sfncompile local benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}, load average {os.getloadavg()[0]:.1f} at the start",
    ]
    with tempfile.TemporaryDirectory(prefix="sfn-local-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        if "a" in args.only:
            bench_overhead(tmp, args.steps, args.runs, report)
        if "c" in args.only:
            bench_artifact(args.size_mib, args.runs, report)
        if "b" in args.only:
            metaflow = metaflow_python(args.metaflow_python) if "d" in args.only else None
            bench_foreach(tmp, args.wide, args.runs, args.wide_runs, metaflow, report, header)
        if "e" in args.only:
            bench_heavy(tmp, args.heavy_venv, args.heavy_width, args.heavy_workers, args.runs,
                        report, header)
    report.print(header)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
