"""Save/load throughput and peak memory of one large artifact on local storage.

    python benchmarks/artifact_bench.py [--size-mib 256] [--kind mixed|floats] [--runs 3]
                                        [--baseline DIR]

Besides a large artifact's save and load, it measures what a task pays around them: saving
a large value whose blob exists already (a step that recomputed the same value), a step that
reads a large artifact and leaves it unchanged (what its task then saves), and 1,000 small
artifacts saved and loaded one by one (a foreach's items, a join's inputs). With
`--baseline DIR` (a checkout of another version of sfncompile) every measurement runs with
both and prints the ratio, measured in the same run.

Every measurement runs in a fresh subprocess, so its peak RSS (ru_maxrss) is honest: it counts
the interpreter, the artifact itself and everything save/load allocate around it. CPU seconds
(all threads) are printed beside wall-clock throughput, which a busy machine distorts.

The data should look like what a flow really stores, neither all zeros (flatters deflate) nor
all random (defeats it):
  mixed   blocks of 0.25-8 MiB alternating between random bytes (float noise, images,
          already-compressed data) and CSV-like digit text, which deflate shrinks to ~55%
  floats  a numpy float64 array (a rounded random walk, like prices or sensor readings),
          which pickles through PickleBuffer; needs numpy
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1 << 20
FLOW = "BenchFlow"
_DIGITS = b"0123456789" * 4 + b",,,,\n\n.."


def _generate(path: Path, kind: str, size: int) -> None:
    """Write the artifact's raw bytes to a file, a block at a time (the parent stays small)."""
    with path.open("wb") as out:
        if kind == "mixed":
            # Block sizes vary (like the columns of a table) so that they do not line up with
            # the compressor's chunks.
            table = bytes(_DIGITS[i % len(_DIGITS)] for i in range(256))
            rng, left, text = random.Random(0), size, False
            while left:
                block = os.urandom(min(left, rng.randrange(256 << 10, 8 * MiB)))
                out.write(block.translate(table) if text else block)
                left, text = left - len(block), not text
        else:
            import numpy as np

            gen, level = np.random.default_rng(0), 100.0
            for _ in range(size // MiB):
                walk = level + np.cumsum(gen.normal(scale=0.5, size=MiB // 8))
                level = float(walk[-1])
                out.write(np.round(walk, 2).astype("<f8").tobytes())


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # KiB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def _child(args: argparse.Namespace) -> None:
    from sfncompile.datastore import layout as datastore
    from sfncompile.datastore.storage import LocalStorage

    if args.child == "small":
        _child_small(args)
        return

    if args.level is not None:
        datastore.COMPRESS_LEVEL = args.level
    if args.threads is not None:
        datastore._MAX_WORKERS = args.threads
    storage = LocalStorage(args.root)
    result: dict[str, Any] = {}
    if args.child in ("save", "resave"):
        obj: Any
        if args.kind == "mixed":
            obj = Path(args.data).read_bytes()
        else:
            import numpy as np

            obj = np.fromfile(args.data, dtype="<f8")
        result["before_rss"] = _peak_rss_bytes()
        start, cpu = time.perf_counter(), _cpu_seconds()
        result["sha"] = datastore.save_artifact(storage, FLOW, obj)
    elif args.child == "reread":
        start, cpu = time.perf_counter(), _cpu_seconds()
        result["saved"] = _reread(storage, args.sha)
    else:
        start, cpu = time.perf_counter(), _cpu_seconds()
        obj = datastore.load_artifact(storage, FLOW, args.sha)
        result["nbytes"] = len(obj) if isinstance(obj, bytes) else int(obj.nbytes)
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = _cpu_seconds() - cpu
    result["peak_rss"] = _peak_rss_bytes()
    print(json.dumps(result))


def _reread(storage: Any, sha: str) -> int:
    """A step that reads the artifact and changes nothing; returns how many artifacts its
    task then saves (what TaskRunner.artifacts does with the flow's state)."""
    from sfncompile.datastore import layout as datastore
    from sfncompile.flow.flowspec import Binding, FlowSpec

    def load(sha: str, *context: Any) -> Any:
        return datastore.load_artifact(storage, FLOW, sha)

    flow = FlowSpec._bound(Binding({"data": sha}, load))
    assert len(flow.data) > 0  # the step reads it
    if hasattr(flow, "_artifacts_to_save"):
        values, _ = flow._artifacts_to_save()
    else:  # versions that save every artifact a step touched
        values = {k: v for k, v in flow.__dict__.items() if not k.startswith("_")}
    datastore.save_artifacts(storage, FLOW, values)
    return len(values)


def _child_small(args: argparse.Namespace) -> None:
    """args.count small artifacts (a few hundred bytes each) saved, then loaded, one by one."""
    from sfncompile.datastore import layout as datastore
    from sfncompile.datastore.storage import LocalStorage

    storage = LocalStorage(args.root)
    values = [{"index": i, "name": f"item-{i}", "weights": [i * 0.5] * 20}
              for i in range(args.count)]
    start = time.perf_counter()
    shas = [datastore.save_artifact(storage, FLOW, v) for v in values]
    saved = time.perf_counter() - start
    start = time.perf_counter()
    loaded = [datastore.load_artifact(storage, FLOW, sha) for sha in shas]
    load_seconds = time.perf_counter() - start
    assert loaded == values
    print(json.dumps({"save_ms": saved * 1000 / args.count,
                      "load_ms": load_seconds * 1000 / args.count}))


def _measure(args: argparse.Namespace, *extra: str, code: str | None = None
             ) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--kind", args.kind, *extra]
    if args.level is not None:
        argv += ["--level", str(args.level)]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    env = {**os.environ, "PYTHONPATH": code} if code else None
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"measurement failed: {' '.join(argv)}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--kind", choices=["mixed", "floats"], default="mixed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--level", type=int, help="override the compression level")
    parser.add_argument("--threads", type=int, help="override the compression thread cap")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also measure the sfncompile checked out in DIR, for ratios")
    parser.add_argument("--count", type=int, default=1000, help="small artifacts")
    parser.add_argument("--child", choices=["save", "load", "resave", "reread", "small"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--sha", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    size = args.size_mib * MiB
    this = str(Path(__file__).resolve().parent.parent)
    versions = {"this": this, **({"baseline": args.baseline} if args.baseline else {})}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {v: {} for v in versions}
    with tempfile.TemporaryDirectory(prefix="sfn-bench-") as tmp:
        data = Path(tmp, "data.bin")
        _generate(data, args.kind, size)
        # Versions alternate run by run, so that a busy machine slows both alike.
        for i in range(args.runs):
            for v, code in versions.items():
                _measure_once(args, Path(tmp, f"{v}{i}"), data, code, runs[v])
    stored = runs["this"]["save"][0]["stored"]
    print(f"artifact: {args.size_mib} MiB ({args.kind}), {os.cpu_count()} CPUs, "
          f"stored blob {stored / MiB:.1f} MiB ({stored / size:.0%})")
    for what in ("save", "load"):  # the lines local_bench.py reads
        r = runs["this"][what]
        speed = statistics.median(size / MiB / x["seconds"] for x in r)
        cpu = statistics.median(x["cpu_seconds"] for x in r)
        peak = max(x["peak_rss"] for x in r)
        print(f"{what}: median {speed:6.1f} MiB/s wall, {cpu:5.2f} CPU-s "
              f"({size / MiB / cpu:6.1f} MiB per CPU-s), over {len(r)} runs; "
              f"peak RSS {peak / MiB:6.1f} MiB = {peak / size:.2f}x the artifact")
    print(f"medians of {args.runs} runs, each in a fresh process; wall s (CPU s)")
    rows = [("save, new blob", "save"), ("load", "load"), ("save, blob exists", "resave"),
            ("read unchanged, then save", "reread"), ("small artifact: save", "small_save"),
            ("small artifact: load", "small_load")]
    for label, key in rows:
        line = f"{label:27}"
        med: dict[str, tuple[float, float]] = {}
        for v in versions:
            r = runs[v][key]
            med[v] = (statistics.median(x["seconds"] for x in r),
                      statistics.median(x["cpu_seconds"] for x in r))
            wall, cpu = med[v]
            if key.startswith("small"):
                line += f" {v}: {wall * 1000:6.2f} ms"
            else:
                line += f" {v}: {wall:6.2f} s ({cpu:5.2f})"
            if key == "reread":
                line += f" {r[0]['saved']} saved"
        if args.baseline:
            (bw, bc), (tw, tc) = med["baseline"], med["this"]
            line += f"  baseline/this: wall {bw / tw:5.2f}x"
            if tc > 0 and not key.startswith("small"):
                line += f", CPU {bc / tc:5.2f}x"
        print(line)


def _measure_once(args: argparse.Namespace, tmp: Path, data: Path, code: str,
                  out: dict[str, list[dict[str, Any]]]) -> None:
    root = tmp / "root"
    save = _measure(args, "--child", "save", "--data", str(data), "--root", str(root),
                    code=code)
    sha = save["sha"]
    save["stored"] = next(root.rglob(sha)).stat().st_size
    common = ("--root", str(root), "--sha", sha)
    load = _measure(args, "--child", "load", *common, code=code)
    assert load["nbytes"] == args.size_mib * MiB, "loaded artifact has the wrong size"
    resave = _measure(args, "--child", "resave", "--data", str(data), *common, code=code)
    reread = _measure(args, "--child", "reread", *common, code=code)
    small = _measure(args, "--child", "small", "--count", str(args.count), "--root",
                     str(tmp / "small"), code=code)
    for key, result in (("save", save), ("load", load), ("resave", resave),
                        ("reread", reread)):
        out.setdefault(key, []).append(result)
    for key in ("save", "load"):
        per = small[f"{key}_ms"] / 1000
        out.setdefault(f"small_{key}", []).append({"seconds": per, "cpu_seconds": 0.0})
    shutil.rmtree(tmp)

if __name__ == "__main__":
    main()
