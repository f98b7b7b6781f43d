"""What the parity tests cost: the corpus (tests/parity/flows) under Metaflow 2.19 and under
sfncompile, in CPU seconds (the suite runs on 2 cores, so CPU is what it pays) and wall.

    python benchmarks/parity_bench.py [--metaflow-python PATH] [--parallel 3] [--only a,b]

  (a) the Metaflow driver of the tests (tests/parity/metaflow_driver.py) over the corpus, its
      launchers forked from one process that has imported Metaflow (what the tests do);
  (b) the same with each launcher a fresh `python FLOW.py ... run` (Metaflow's plain way);
  (c) `sfncompile run` of every flow, one after the other (what the tests do).

CPU is this process's children (RUSAGE_CHILDREN: every descendant that was waited for). The
figures per flow and per task divide by the corpus's flows and by the tasks Metaflow ran.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.parity.corpus import cases  # noqa: E402
from tests.parity.metaflow_env import DRIVER, metaflow_env, user_env  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def metaflow(python: str, names: list[str], parallel: int, fork: bool) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="parity-bench-"))
    chosen = [c for c in cases() if not names or c.name in names]
    job = {"root": str(home), "parallel": parallel, "fork": fork, "runs": [
        {"key": c.name, "file": str(c.file), "cwd": str(c.file.parent),
         "argv": c.metaflow_argv()} for c in chosen]}
    (home / "job.json").write_text(json.dumps(job))
    cpu, wall = children_cpu(), time.monotonic()
    subprocess.run([python, str(DRIVER), str(home / "job.json"), str(home / "out.json")],
                   env=metaflow_env(home), check=True)
    cpu, wall = children_cpu() - cpu, time.monotonic() - wall
    out = json.loads((home / "out.json").read_text())
    failed = sorted(k for k, r in out.items() if r["code"] != 0)
    tasks = sum(len(t) for r in out.values() for t in r.get("steps", {}).values())
    return {"flows": len(chosen), "tasks": tasks, "cpu": cpu, "wall": wall,
            "failed": len(failed)}


def sfncompile(names: list[str]) -> dict[str, float]:
    chosen = [c for c in cases() if not names or c.name in names]
    cpu, wall, failed = children_cpu(), time.monotonic(), 0
    for case in chosen:
        root = Path(tempfile.mkdtemp(prefix="parity-bench-sfn-"))
        proc = subprocess.run(
            [sys.executable, "-m", "sfncompile", "run", str(case.file), "--datastore-root",
             str(root), "--max-workers", "4", *case.sfncompile_argv()],
            cwd=case.file.parent, env=user_env(), capture_output=True)
        failed += proc.returncode != 0
    return {"flows": len(chosen), "cpu": children_cpu() - cpu,
            "wall": time.monotonic() - wall, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metaflow-python",
                        default=os.environ.get("METAFLOW_PYTHON", "/tmp/mfvenv/bin/python"))
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated corpus flows")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    for label, fork in (("(a) Metaflow, forked launchers", True),
                        ("(b) Metaflow, python FLOW.py run", False)):
        r = metaflow(args.metaflow_python, names, args.parallel, fork)
        print(f"{label}: {r['flows']} flows ({r['failed']} failed), {r['tasks']} tasks: "
              f"CPU {r['cpu']:.1f} s ({r['cpu'] / r['flows']:.2f} s/flow, "
              f"{r['cpu'] / max(r['tasks'], 1):.2f} s/task), wall {r['wall']:.1f} s")
    r = sfncompile(names)
    print(f"(c) sfncompile run: {r['flows']} flows ({r['failed']} failed): CPU {r['cpu']:.1f} s "
          f"({r['cpu'] / r['flows']:.2f} s/flow), wall {r['wall']:.1f} s")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
