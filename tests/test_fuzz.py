"""Seeded fuzzing of `sfncompile build`: no input crashes the compiler.

Thousands of mutated flows (see tests/fuzzing.py) go through the CLI's own entry point in this
process; a few go through real `python -m sfncompile` processes, among them a 20,000-branch
split, which must be refused before any ASL is built. `benchmarks/fuzz_bench.py` runs the same
check on 20,000 inputs.
"""

from __future__ import annotations

import collections
import resource
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sfncompile.cli import main
from tests.fuzzing import (
    FUZZ_ENV,
    HOSTILE_SEEDS,
    MUTATIONS,
    check_flow_file,
    fuzz_inputs,
    huge_flow,
)

SEED = 20261129
COUNT = 2_000


def test_fuzzed_flows_build_or_fail_cleanly(tmp_path: Path) -> None:
    runner = CliRunner(env=FUZZ_ENV)
    path = tmp_path / "flow.py"
    failures: list[str] = []
    used: collections.Counter[str] = collections.Counter()
    built = 0
    for item in fuzz_inputs(SEED, COUNT, huge_every=250, slow_huge=False):
        path.write_bytes(item.data)
        outcome = check_flow_file(runner, path)
        used.update(item.mutations)
        built += outcome.built
        if outcome.problem:
            kept = tmp_path / f"failing_{item.number}.py"
            kept.write_bytes(item.data)
            failures.append(f"#{item.number} {'+'.join(item.mutations)} ({kept}): "
                            f"{outcome.problem}")
    assert not failures, f"{len(failures)} of {COUNT} inputs:\n" + "\n\n".join(failures[:5])
    # Not vacuous: every mutation ran, and enough inputs built to exercise the other commands.
    assert set(used) >= {name for name, _, _ in MUTATIONS} | {"huge_flow"}
    assert built >= COUNT // 50, built


def test_hostile_seeds_build_cleanly(tmp_path: Path) -> None:
    runner = CliRunner(env=FUZZ_ENV)
    for name, data in HOSTILE_SEEDS.items():
        path = tmp_path / f"{name}.py"
        path.write_bytes(data)
        outcome = check_flow_file(runner, path)
        assert outcome.problem is None and outcome.built, (name, outcome.problem)
    built = runner.invoke(main, ["build", str(tmp_path / "schedule_cron_none.py"), "--format",
                                 "cloudformation"])
    assert '"ScheduleExpression": "cron(0 0 * * ? *)"' in built.stdout  # daily, as Metaflow


def _build(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", "build", path.name],
                          capture_output=True, text=True, cwd=path.parent)


def _assert_clean_flow_errors(proc: subprocess.CompletedProcess[str], name: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    *errors, summary = proc.stderr.splitlines()
    assert summary.endswith(("error found", "errors found")), proc.stderr
    assert errors and all(line.startswith(f"{name}:") for line in errors), proc.stderr


def test_real_processes_report_bad_files_by_line_and_column(tmp_path: Path) -> None:
    source = (Path(__file__).parent.parent / "golden" / "split" / "flow.py").read_bytes()
    cases = {
        "latin1.py": (b"# caf\xe9\n" + source, "1:6: the file is not valid utf-8"),
        "nul.py": (source.replace(b"\n\n", b"\n\x00\n", 1), "the file contains a NUL"),
        "deep.py": (source + b"\nX = " + b"-" * 100_000 + b"1\n", "nests too deeply"),
        "truncated.py": (source[:len(source) // 2], ""),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        proc = _build(tmp_path / name)
        _assert_clean_flow_errors(proc, name)
        assert message in proc.stderr, proc.stderr
    (tmp_path / "ok.py").write_bytes(source)
    assert _build(tmp_path / "ok.py").returncode == 0


class _Wide:
    """huge_flow's choices, made in advance."""

    def __init__(self, *picks: object) -> None:
        self.picks = list(picks)

    def choice(self, options: object) -> object:
        return self.picks.pop(0)


def test_a_20000_branch_split_is_refused_in_under_2_s_of_cpu(tmp_path: Path) -> None:
    path = tmp_path / "wide.py"
    path.write_bytes(huge_flow(_Wide("wide", 20_000), b""))  # type: ignore[arg-type]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = _build(path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _assert_clean_flow_errors(proc, "wide.py")
    assert "has 20,003 steps" in proc.stderr
    # CPU time, interpreter start included: wall time on a busy CI machine says little.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 2.0, f"{cpu:.2f} s of CPU"
