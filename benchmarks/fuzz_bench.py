"""Fuzz `sfncompile build` with many mutated flows and report how it held up.

    python benchmarks/fuzz_bench.py [--count 20000] [--seed 1] [--keep DIR]

The inputs and the check are those of tests/test_fuzz.py (tests/fuzzing.py), here with every
size of generated huge flow, including those refused only after the ASL is built. Each input
runs through the CLI's entry point in this process. Prints the count, the time (wall and CPU),
inputs per second, how many built, the mutations applied, the slowest inputs, the time to
refuse 10,000- and 20,000-branch splits in fresh processes, and every failure (a traceback,
another exit code, an error line that is not `path:line:col:`, a built flow whose
CloudFormation, graph or schema check fails); exits 1 if there was one.
Failing inputs are written to --keep (default: a temporary directory).
"""

from __future__ import annotations

import argparse
import collections
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from tests.fuzzing import FUZZ_ENV, check_flow_file, fuzz_inputs, huge_flow  # noqa: E402


class _Picks:
    """huge_flow's random choices, made in advance."""

    def __init__(self, *picks: object) -> None:
        self.picks = list(picks)

    def choice(self, options: object) -> object:
        return self.picks.pop(0)


def time_wide_splits(work: Path, runs: int = 3) -> None:
    """`sfncompile build` of 10,000- and 20,000-branch splits in fresh processes (refused
    before any ASL is built): median wall and CPU seconds, interpreter start included."""
    for width in (10_000, 20_000):
        path = work / f"wide{width}.py"
        path.write_bytes(huge_flow(_Picks("wide", width), b""))  # type: ignore[arg-type]
        walls, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "sfncompile", "build", str(path)],
                                  capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        print(f"split of {width:,} branches refused: {statistics.median(walls):.2f} s wall, "
              f"{statistics.median(cpus):.2f} s CPU (median of {runs})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    keep: Path = args.keep or Path(tempfile.mkdtemp(prefix="fuzz-"))
    keep.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fuzz-work-"))
    path = work / "flow.py"
    runner = CliRunner(env=FUZZ_ENV)
    built = 0
    by_mutation: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    slowest: list[tuple[float, int, str]] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for item in fuzz_inputs(args.seed, args.count):
        path.write_bytes(item.data)
        start = time.perf_counter()
        outcome = check_flow_file(runner, path)
        elapsed = time.perf_counter() - start
        slowest = sorted([*slowest, (elapsed, item.number, "+".join(item.mutations))])[-5:]
        built += outcome.built
        by_mutation.update(item.mutations)
        if item.number % 2_000 == 1_999:
            print(f"  {item.number + 1:,} inputs, {time.perf_counter() - wall0:.0f} s",
                  file=sys.stderr, flush=True)
        if outcome.problem:
            kept = keep / f"failing_{item.number}.py"
            kept.write_bytes(item.data)
            failures.append(f"#{item.number} {'+'.join(item.mutations)} ({kept}):\n"
                            f"  {outcome.problem}")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"inputs:   {args.count:,} (seed {args.seed})")
    print(f"time:     {wall:.1f} s wall, {cpu:.1f} s CPU, {args.count / wall:.0f} inputs/s")
    print(f"built:    {built:,} ({100 * built / args.count:.1f}%), the rest refused with "
          "path:line:col errors")
    print("mutations applied: " + ", ".join(f"{k} {v:,}" for k, v in by_mutation.most_common()))
    print("slowest:  " + "; ".join(f"#{n} {m} {t:.2f} s" for t, n, m in reversed(slowest)))
    time_wide_splits(work)
    print(f"failures: {len(failures)}")
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
