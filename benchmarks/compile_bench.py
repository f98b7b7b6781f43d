"""How long `sfncompile build` takes, and how big its ASL is, as flows grow.

    python benchmarks/compile_bench.py [--runs 5]

Flows: linear chains of 4, 10, 100 and 1,000 steps; a foreach whose body is one step (its ASL
does not depend on the width, which is only known at run time); splits 10 and 100 wide; a
10,000-wide split, which `build` must refuse (exit 2).

For each flow:
  e2e      median wall time of `python -m sfncompile build FLOW.py -o OUT` in a fresh
           subprocess (interpreter start, imports, parse, compile, validate, write), with its
           CPU seconds beside it, since a busy machine stretches wall time;
  compile  median in-process time (wall, and CPU) of parse + compile (emit, limits,
           graph checks) + render;
  bytes    the ASL's size, and per step.
Then, measured in the same run: `python -c pass` (the floor); the golden check of every
golden flow with one `build --check` per flow against one `build ... --check-dir golden`;
whether `build` imports boto3, pydantic, jsonschema; the schema check of a 200-wide split.
Targets (ratios of medians, wall and CPU): a 4-step build at most 4x `python -c pass`; 1,000
steps under 0.4 s; the 10,000-wide split refused in under 2 s; --check-dir at least 5x faster
than one process per flow.
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

SMALL_BUILD_RATIO = 4.0  # a 4-step build over `python -c pass`
E2E_1000_TARGET_S = 0.4
REFUSE_10000_TARGET_S = 2.0
CHECK_DIR_SPEEDUP = 5.0
BYTES_PER_STEP_TARGET = 1_500
GOLDEN = Path(__file__).resolve().parent.parent / "golden"
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
    "linear 4": (linear(4), 4),
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


def timed(argv: list[str], runs: int, expect: int = 0) -> tuple[float, float]:
    """Median wall and CPU seconds of a subprocess; it must exit with `expect`."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, t0 = _children_cpu(), time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - cpu0)
        if proc.returncode != expect:
            raise SystemExit(f"{argv}: exit {proc.returncode}, expected {expect}\n{proc.stderr}")
    return statistics.median(walls), statistics.median(cpus)


def build_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "sfncompile", "build", *args]


def in_process(path: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of parse + compile + render in this process."""
    from sfncompile.emit import compile_asl
    from sfncompile.emit.render import render_json
    from sfncompile.parser import parse_flow

    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        render_json(compile_asl(parse_flow(path), check_schema=False))
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def schema_check(path: Path, runs: int) -> float:
    """Median CPU seconds of the full check (JSON Schema and graph) of a flow's ASL."""
    from sfncompile.emit.asl import emit_asl
    from sfncompile.emit.asl_checks import validate_asl
    from sfncompile.parser import parse_flow

    definition = emit_asl(parse_flow(path))
    validate_asl(definition)  # loads the schema once
    cpus = []
    for _ in range(runs):
        c0 = time.process_time()
        assert not validate_asl(definition)
        cpus.append(time.process_time() - c0)
    return statistics.median(cpus)


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


def golden_checks(runs: int) -> tuple[int, tuple[float, float], tuple[float, float]]:
    """One `build --check` per golden flow (summed), and one `--check-dir` over all."""
    flows = sorted(GOLDEN.glob("*/flow.py"))
    walls, cpus = [], []
    for _ in range(runs):
        wall = cpu = 0.0
        for flow in flows:
            w, c = timed(build_argv(str(flow), "--check", str(flow.with_suffix(".asl.json"))), 1)
            wall, cpu = wall + w, cpu + c
        walls.append(wall)
        cpus.append(cpu)
    together = timed(build_argv(*map(str, flows), "--check-dir", str(GOLDEN)), runs)
    return len(flows), (statistics.median(walls), statistics.median(cpus)), together


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = max(3, args.runs)
    # An installed package has its bytecode (pip compiles it); a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module in every build.
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "sfncompile"), quiet=1)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (source, steps) in FLOWS.items():
            path = Path(tmp) / (label.split(" ")[0] + f"_{steps}.py")
            path.write_text(source, encoding="utf-8")
            out = path.with_suffix(".asl.json")
            wall, cpu = timed(build_argv(str(path), "-o", str(out)), runs)
            rows[label] = (steps, wall, cpu, *in_process(path, runs), out.stat().st_size)
        imports = build_imports(Path(tmp) / "linear_10.py")
        split200 = Path(tmp) / "split_200.py"
        split200.write_text(split(200), encoding="utf-8")
        schema_200 = schema_check(split200, runs)
        wide = Path(tmp) / "split_10000.py"
        wide.write_text(split(10_000), encoding="utf-8")
        refuse = timed(build_argv(str(wide), "-o", str(wide.with_suffix(".json"))), runs,
                       expect=2)
    floor = timed([sys.executable, "-c", "pass"], runs)
    n_goldens, one_by_one, together = golden_checks(runs)

    print(f"median of {runs} runs; python -c pass: {floor[0] * 1000:.0f} ms wall, "
          f"{floor[1] * 1000:.0f} ms CPU\n")
    print(f"{'flow':34} {'steps':>5} {'e2e wall':>9} {'e2e cpu':>8} {'compile':>9} "
          f"{'cpu':>8} {'ASL bytes':>10} {'bytes/step':>10}")
    for label, (steps, wall, cpu, c_wall, c_cpu, size) in rows.items():
        print(f"{label:34} {steps:5d} {wall * 1000:7.0f}ms {cpu * 1000:6.0f}ms "
              f"{c_wall * 1000:7.1f}ms {c_cpu * 1000:6.1f}ms {size:10,d} {size / steps:10,.0f}")

    def per_step(label: str) -> float:
        return rows[label][4] / rows[label][0]  # CPU: a busy machine distorts wall time

    print("\ncompile CPU time per step, 1000 steps vs 100: "
          f"{per_step('linear 1000') / per_step('linear 100'):.2f}x")
    print(f"modules imported by build: {imports}")
    print(f"schema check of a 200-wide split (identical branches): {schema_200 * 1000:.1f} ms "
          "CPU")
    print(f"split 10,000 wide, refused: {refuse[0]:.2f} s wall, {refuse[1]:.2f} s CPU")
    print(f"golden check of {n_goldens} flows: one process per flow {one_by_one[0]:.2f} s wall "
          f"({one_by_one[1]:.2f} s CPU); --check-dir {together[0]:.2f} s wall "
          f"({together[1]:.2f} s CPU)")

    small = rows["linear 4"]
    ratio = (small[1] / floor[0], small[2] / floor[1])
    big = rows["linear 1000"]
    speedup = (one_by_one[0] / together[0], one_by_one[1] / together[1])
    checks = [
        (f"4-step build / python -c pass <= {SMALL_BUILD_RATIO:.0f}: {ratio[0]:.1f}x wall, "
         f"{ratio[1]:.1f}x CPU", ratio[0] <= SMALL_BUILD_RATIO),
        (f"1,000-step build < {E2E_1000_TARGET_S} s: {big[1]:.2f} s wall, {big[2]:.2f} s CPU",
         big[1] < E2E_1000_TARGET_S),
        (f"10,000-wide split refused < {REFUSE_10000_TARGET_S:.0f} s: {refuse[0]:.2f} s wall, "
         f"{refuse[1]:.2f} s CPU", refuse[0] < REFUSE_10000_TARGET_S),
        (f"--check-dir >= {CHECK_DIR_SPEEDUP:.0f}x one build per golden: {speedup[0]:.1f}x "
         f"wall, {speedup[1]:.1f}x CPU", speedup[0] >= CHECK_DIR_SPEEDUP),
        (f"< {BYTES_PER_STEP_TARGET:,} ASL bytes per plain step: {big[5] / big[0]:,.0f}",
         big[5] / big[0] < BYTES_PER_STEP_TARGET),
        ("build imports neither boto3 nor pydantic nor jsonschema",
         not (imports["boto3"] or imports["pydantic"] or imports["jsonschema"])),
    ]
    print()
    for text, ok in checks:
        print(f"target: {text} {verdict(ok)}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
