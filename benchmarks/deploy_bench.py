"""Deploy and run on moto's Step Functions engine (`sfncompile dev-aws`, started by tests/moto_sfn).

Measures, as medians of several runs:
  (a) `sfncompile deploy` of a 3-step foreach flow, cold (a new state machine each time) and
      warm (unchanged: only reads), end to end through the CLI;
  (b) from `sfncompile trigger` to SUCCEEDED for a 20-wide foreach, every task a real process
      running the runtime against moto's S3.

    python benchmarks/deploy_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deployment import Deployment  # noqa: E402
from tests.moto_sfn.fixture import _start, _stop  # noqa: E402

FLOW = ROOT / "golden" / "foreach" / "flow.py"  # start -> foreach square -> join -> end


def timed(fn: object) -> float:
    began = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, sfn = _start(Path(tmp))
        try:
            d = Deployment(sfn, Path(tmp))
            # The baseline in the same process: the CLI doing nothing but parse + compile.
            baseline = [timed(lambda: subprocess.run(
                [sys.executable, "-m", "sfncompile", "build", str(FLOW)], check=True,
                capture_output=True)) for _ in range(args.runs)]
            cold, warm = [], []
            for _ in range(args.runs):
                name = f"Bench{uuid.uuid4().hex[:8]}"
                cold.append(timed(lambda n=name: d.deploy(FLOW, "--name", n)))
                warm.append(timed(lambda n=name: d.deploy(FLOW, "--name", n)))
            d.deploy(FLOW)
            runs = []
            for _ in range(max(3, args.runs // 2)):
                began = time.perf_counter()
                run_id = d.trigger(FLOW, {"width": "20"})
                desc = d.wait("ForeachFlow", run_id)
                assert desc["status"] == "SUCCEEDED", desc
                runs.append(time.perf_counter() - began)
        finally:
            _stop(proc)
    b = statistics.median(baseline)
    print(f"deploy_bench {datetime.date.today()} (median of {args.runs}; moto 5.2.5 patched)")
    print(f"  build (baseline, CLI)           {b:6.2f} s")
    for label, values in (("deploy cold", cold), ("deploy warm (no changes)", warm)):
        m = statistics.median(values)
        print(f"  {label:<31} {m:6.2f} s   {m / b:4.1f}x build")
    m = statistics.median(runs)
    print(f"  trigger -> SUCCEEDED, 20-wide   {m:6.2f} s   ({len(runs)} runs, 23 tasks each)")


if __name__ == "__main__":
    main()
