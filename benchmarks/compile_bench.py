"""How long `sfncompile build` takes, and how big its ASL is, as flows grow.

    python benchmarks/compile_bench.py [--runs 5]

Flows: linear chains of 10, 100 and 1,000 steps; a foreach whose body is one step (its ASL
does not depend on the width, which is only known at run time); splits 10 and 100 wide.

For each flow:
  e2e      median wall time of `python -m sfncompile build FLOW.py -o OUT` in a fresh
           subprocess (interpreter start, imports, parse, compile, validate, write), with its
           CPU seconds beside it, since a busy machine stretches wall time;
  compile  median in-process time (wall, and CPU) of parse + compile (emit, limits,
           validation) + render;
  bytes    the ASL's size, and per step.
Then: the per-step compile time of 1,000 steps over that of 10 and 100 (about 1 when compile
time grows linearly), whether `build` imports boto3, and the targets: 1,000 steps build end to
end in under 1 s, and a plain step costs under 1,500 bytes of ASL.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

E2E_TARGET_S = 1.0
BYTES_PER_STEP_TARGET = 1_500
HEADER = "from sfncompile import FlowSpec, step\n\n\nclass {name}(FlowSpec):\n"


def _step(name: str, transition: str, args: str = "self") -> str:
    return f"    @step\n    def {name}({args}):\n        {transition}\n"


def _end() -> str:
    return "    @step\n    def end(self):\n        pass\n"


def linear(steps: int) -> str:
    """`steps` steps in a chain: start, s1, ..., end."""
    names = ["start", *(f"s{i}" for i in range(1, steps - 1)), "end"]
    body = [_step(a, f"self.next(self.{b})") for a, b in itertools.pairwise(names)]
    return HEADER.format(name=f"Linear{steps}Flow") + "\n".join([*body, _end()])


def foreach() -> str:
    return HEADER.format(name="ForeachFlow") + "\n".join([
        "    @step\n    def start(self):\n        self.items = list(range(1000))\n"
        '        self.next(self.work, foreach="items")\n',
        _step("work", "self.next(self.join)"),
        _step("join", "self.next(self.end)", "self, inputs"),
        _end(),
    ])


def split(width: int) -> str:
    branches = [f"b{i}" for i in range(width)]
    return HEADER.format(name=f"Split{width}Flow") + "\n".join([
        _step("start", f"self.next({', '.join('self.' + b for b in branches)})"),
        *(_step(b, "self.next(self.join)") for b in branches),
        _step("join", "self.next(self.end)", "self, inputs"),
        _end(),
    ])


FLOWS = {
    "linear 10": (linear(10), 10),
    "linear 100": (linear(100), 100),
    "linear 1000": (linear(1000), 1000),
    "foreach (1-step body, any width)": (foreach(), 4),
    "split 10": (split(10), 12),
    "split 100": (split(100), 102),
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def end_to_end(path: Path, runs: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of the CLI build in a subprocess, and the output's bytes."""
    out = path.with_suffix(".asl.json")
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "sfncompile", "build", str(path), "-o", str(out)],
                       check=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus), out.stat().st_size


def in_process(path: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of parse + compile + render in this process."""
    from sfncompile.emit import compile_asl
    from sfncompile.emit.render import render_json
    from sfncompile.parser import parse_flow

    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        render_json(compile_asl(parse_flow(path)))
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def python_floor(runs: int) -> float:
    """The bare interpreter's start, for scale."""
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def build_imports(path: Path) -> dict[str, bool]:
    code = (
        "import json, sys\n"
        "from sfncompile.cli import main\n"
        f"main(['build', {str(path)!r}, '-o', {str(path.with_suffix('.out.json'))!r}],"
        " standalone_mode=False)\n"
        "print(json.dumps({m: m in sys.modules for m in "
        "('boto3', 'botocore', 'pydantic', 'jsonschema', 'click')}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True)
    loaded: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = max(5, args.runs)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (source, steps) in FLOWS.items():
            path = Path(tmp) / (label.split(" ")[0] + f"_{steps}.py")
            path.write_text(source, encoding="utf-8")
            wall, cpu, size = end_to_end(path, runs)
            rows[label] = (steps, wall, cpu, *in_process(path, runs), size)
        imports = build_imports(Path(tmp) / "linear_10.py")
    floor = python_floor(runs)

    print(f"median of {runs} runs; python -c pass takes {floor * 1000:.0f} ms here\n")
    print(f"{'flow':34} {'steps':>5} {'e2e wall':>9} {'e2e cpu':>8} {'compile':>9} "
          f"{'cpu':>8} {'ASL bytes':>10} {'bytes/step':>10}")
    for label, (steps, wall, cpu, c_wall, c_cpu, size) in rows.items():
        print(f"{label:34} {steps:5d} {wall * 1000:7.0f}ms {cpu * 1000:6.0f}ms "
              f"{c_wall * 1000:7.1f}ms {c_cpu * 1000:6.1f}ms {size:10,d} {size / steps:10,.0f}")

    def per_step(label: str) -> float:
        return rows[label][4] / rows[label][0]  # CPU: a busy machine distorts wall time

    print("\ncompile CPU time per step, 1000 steps vs 10:  "
          f"{per_step('linear 1000') / per_step('linear 10'):.2f}x")
    print("compile CPU time per step, 1000 steps vs 100: "
          f"{per_step('linear 1000') / per_step('linear 100'):.2f}x")
    print(f"modules imported by build: {imports}")

    e2e = rows["linear 1000"][1]
    per_plain_step = rows["linear 1000"][5] / rows["linear 1000"][0]
    ok_time = e2e < E2E_TARGET_S
    ok_size = per_plain_step < BYTES_PER_STEP_TARGET
    print(f"\ntarget: 1,000-step build end to end < {E2E_TARGET_S:.0f} s: {e2e:.2f} s "
          f"(CPU {rows['linear 1000'][2]:.2f} s) {'ok' if ok_time else 'MISSED'}")
    print(f"target: < {BYTES_PER_STEP_TARGET:,} ASL bytes per plain step: {per_plain_step:,.0f} "
          f"{'ok' if ok_size else 'MISSED'}")
    print(f"boto3 imported by build: {'yes' if imports['boto3'] else 'no'}")
    return 0 if ok_time and ok_size and not imports["boto3"] else 1


if __name__ == "__main__":
    sys.exit(main())
