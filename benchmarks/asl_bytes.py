"""Bytes of reviewed ASL per Batch task in every golden flow, against a git baseline.

    python benchmarks/asl_bytes.py [--baseline REV]

For each golden: the size of `flow.asl.json` (2-space indentation, as reviewed) over its
Batch Task states, as built now and as committed at REV (default: HEAD), and the ratio.
The figure is deterministic: one build, no repetition. The target is at most 1,000 bytes per
Batch task in every golden (tests/test_golden.py asserts it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sfncompile.emit import compile_asl  # noqa: E402
from sfncompile.emit.render import render_json  # noqa: E402
from sfncompile.parser import parse_flow  # noqa: E402
from tests.conftest import golden_dirs  # noqa: E402
from tests.test_golden import BYTES_PER_BATCH_TASK, batch_tasks  # noqa: E402


def committed(rev: str, path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{rel}"], check=True,
                          capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision of the baseline goldens")
    args = parser.parse_args()
    print(f"| golden | Batch tasks | bytes/task at {args.baseline} | bytes/task now | now/before |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for case in golden_dirs():
        now = render_json(compile_asl(parse_flow(case / "flow.py")))
        before = committed(args.baseline, case / "flow.asl.json")
        tasks = batch_tasks(json.loads(now))
        per_now, per_before = len(now.encode()) / tasks, len(before.encode()) / tasks
        worst = max(worst, per_now)
        print(f"| {case.name} | {tasks} | {per_before:,.0f} | {per_now:,.0f} | "
              f"{per_now / per_before:.2f} |")
    print(f"\nlargest now: {worst:,.1f} bytes per Batch task (target <= {BYTES_PER_BATCH_TASK:,})")
    return 0 if worst <= BYTES_PER_BATCH_TASK else 1


if __name__ == "__main__":
    raise SystemExit(main())
