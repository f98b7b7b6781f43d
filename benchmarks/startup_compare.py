"""Start-up costs of this checkout against another source tree, measured in the same run.

    git worktree add /tmp/baseline <commit>
    python benchmarks/startup_compare.py --baseline /tmp/baseline [--runs 15]

For each tree (its `sfncompile` put first on PYTHONPATH, its bytecode compiled first), runs
alternate baseline / this checkout, so both see the same load:

  build      `python -m sfncompile build` of a 4-step flow to a file (compile_bench.py's e2e)
  import     `python -c "import sfncompile"`: what every flow and every task pays
  task       `python -c "import sfncompile.runtime.task"`: a task's imports (local_bench.py)
  run        `sfncompile run` of a 12-step linear flow at 1 worker, end to end (local_bench.py's
             per-task overhead: runner, fork server and tasks)

It prints the medians (wall and CPU) of each and the ratio this / baseline. The exit code is
1 when a median grows more than --tolerance (default 10%) beyond the baseline's.
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def linear(steps: int) -> str:
    names = ["start", *(f"s{i}" for i in range(1, steps - 1)), "end"]
    lines = ["from sfncompile import FlowSpec, step", "", "",
             f"class Linear{steps}Flow(FlowSpec):"]
    for a, b in itertools.pairwise(names):
        lines += ["    @step", f"    def {a}(self):", f"        self.x_{a} = 1",
                  f"        self.next(self.{b})", ""]
    lines += ["    @step", "    def end(self):", "        pass", ""]
    return "\n".join(lines)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(argv: list[str], tree: Path, cwd: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cpu = children_cpu()
    began = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        sys.exit(f"failed in {tree}: {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    return wall, children_cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--baseline", type=Path, required=True,
                   help="a source tree (a git worktree) holding sfncompile/")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--tolerance", type=float, default=0.10)
    args = p.parse_args(argv)
    trees = {"baseline": args.baseline.resolve(), "this": HERE}
    for tree in trees.values():
        if not (tree / "sfncompile" / "__init__.py").is_file():
            sys.exit(f"{tree}: no sfncompile/ there")
        compileall.compile_dir(tree / "sfncompile", quiet=1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        small = tmp / "small_flow.py"
        small.write_text(linear(4), encoding="utf-8")
        chain = tmp / "chain_flow.py"
        chain.write_text(linear(12), encoding="utf-8")
        py = sys.executable
        cases = {
            "build": lambda i: [py, "-m", "sfncompile", "build", str(small), "-o",
                                str(tmp / "out.json")],
            "import": lambda i: [py, "-c", "import sfncompile"],
            "task": lambda i: [py, "-c", "import sfncompile.runtime.task"],
            "run": lambda i: [py, "-m", "sfncompile", "run", str(chain), "--max-workers", "1",
                              "--datastore-root", str(tmp / f"store{i}")],
        }
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for i in range(args.runs):
            for case, make in cases.items():
                order = list(trees.items()) if i % 2 == 0 else list(trees.items())[::-1]
                for label, tree in order:
                    results.setdefault((case, label), []).append(
                        measure(make(f"{label}{i}"), tree, tmp))
    print(f"{args.runs} runs each, alternating; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'case':8} {'baseline wall':>14} {'this wall':>10} {'ratio':>6}   "
          f"{'baseline CPU':>13} {'this CPU':>9} {'ratio':>6}")
    worse = []
    for case in cases:
        base, this = results[(case, "baseline")], results[(case, "this")]
        bw, tw = (statistics.median(w for w, _ in r) for r in (base, this))
        bc, tc = (statistics.median(c for _, c in r) for r in (base, this))
        print(f"{case:8} {bw * 1000:11.1f} ms {tw * 1000:7.1f} ms {tw / bw:6.2f}   "
              f"{bc * 1000:10.1f} ms {tc * 1000:6.1f} ms {tc / bc:6.2f}")
        if tc / bc > 1 + args.tolerance and tw / bw > 1 + args.tolerance:
            worse.append(case)
    if worse:
        print(f"grew beyond {args.tolerance:.0%}: {', '.join(worse)}")
        return 1
    print(f"no case grew beyond {args.tolerance:.0%} (wall and CPU alike)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
