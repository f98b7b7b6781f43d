"""Bytes of reviewed ASL per Batch task in every golden flow, against a git baseline.

    python benchmarks/asl_bytes.py [--baseline REV]

For each golden: the size of `flow.asl.json` (2-space indentation, as reviewed) over its
Batch Task states, as built now and as committed at REV (default: HEAD), and the ratio; then
the same without the fixed states by which a run records itself (its start and its failure),
which is what the target bounds: at most BYTES_PER_BATCH_TASK bytes per Batch task in every
golden, and the fixed states at most MAX_RUN_RECORD_BYTES (tests/test_golden.py asserts both).
The figure is deterministic: one build, no repetition.
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
from tests.test_golden import (  # noqa: E402
    BYTES_PER_BATCH_TASK,
    MAX_RUN_RECORD_BYTES,
    batch_tasks,
    run_record_bytes,
)


def committed(rev: str, path: Path) -> str | None:
    """The golden at `rev`, or None where it did not exist yet."""
    rel = path.relative_to(ROOT).as_posix()
    proc = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{rel}"],
                          capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision of the baseline goldens")
    args = parser.parse_args()
    print(f"| golden | Batch tasks | bytes/task at {args.baseline} | bytes/task now | now/before "
          "| run record bytes | bytes/task now without them |")
    print("|---|---|---|---|---|---|---|")
    worst = fixed_worst = 0.0
    for case in golden_dirs():
        now = render_json(compile_asl(parse_flow(case / "flow.py")))
        before = committed(args.baseline, case / "flow.asl.json")
        tasks = batch_tasks(json.loads(now))
        per_now = len(now.encode()) / tasks
        fixed = run_record_bytes(now)
        per_task = (len(now.encode()) - fixed) / tasks
        worst, fixed_worst = max(worst, per_task), max(fixed_worst, fixed)
        if before is None:
            then = ratio = "new"
        else:
            per_before = len(before.encode()) / tasks
            then, ratio = f"{per_before:,.0f}", f"{per_now / per_before:.2f}"
        print(f"| {case.name} | {tasks} | {then} | {per_now:,.0f} | {ratio} | {fixed:,} | "
              f"{per_task:,.0f} |")
    print(f"\nlargest now: {worst:,.1f} bytes per Batch task (target <= {BYTES_PER_BATCH_TASK:,}),"
          f" run record states {fixed_worst:,.0f} bytes (target <= {MAX_RUN_RECORD_BYTES:,})")
    return 0 if worst <= BYTES_PER_BATCH_TASK and fixed_worst <= MAX_RUN_RECORD_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
