"""Save/load throughput and peak memory of one large artifact on local storage.

    python benchmarks/artifact_bench.py [--size-mib 256] [--kind mixed|floats] [--runs 3]

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
    from sfncompile.runtime import datastore
    from sfncompile.runtime.storage import LocalStorage

    if args.level is not None:
        datastore.COMPRESS_LEVEL = args.level
    if args.threads is not None:
        datastore._MAX_WORKERS = args.threads
    storage = LocalStorage(args.root)
    result: dict[str, Any] = {}
    if args.child == "save":
        obj: Any
        if args.kind == "mixed":
            obj = Path(args.data).read_bytes()
        else:
            import numpy as np

            obj = np.fromfile(args.data, dtype="<f8")
        result["before_rss"] = _peak_rss_bytes()
        start, cpu = time.perf_counter(), _cpu_seconds()
        result["sha"] = datastore.save_artifact(storage, FLOW, obj)
    else:
        start, cpu = time.perf_counter(), _cpu_seconds()
        obj = datastore.load_artifact(storage, FLOW, args.sha)
        result["nbytes"] = len(obj) if isinstance(obj, bytes) else int(obj.nbytes)
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = _cpu_seconds() - cpu
    result["peak_rss"] = _peak_rss_bytes()
    print(json.dumps(result))


def _measure(args: argparse.Namespace, *extra: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--kind", args.kind, *extra]
    if args.level is not None:
        argv += ["--level", str(args.level)]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    proc = subprocess.run(argv, capture_output=True, text=True)
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
    parser.add_argument("--child", choices=["save", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--sha", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="sfn-bench-") as tmp:
        data = Path(tmp, "data.bin")
        _generate(data, args.kind, size)
        saves, loads, roots = [], [], []
        for i in range(args.runs):
            root = Path(tmp, f"root{i}")  # a fresh root per run: dedup would skip the upload
            save_args = ["--child", "save", "--data", str(data), "--root", str(root)]
            saves.append(_measure(args, *save_args))
            roots.append(root)
        sha = saves[0]["sha"]
        blob = next(roots[0].rglob(sha))
        for root in roots[1:]:
            shutil.rmtree(root)
        for _ in range(args.runs):
            loads.append(_measure(args, "--child", "load", "--root", str(roots[0]), "--sha", sha))
        assert all(r["nbytes"] == size for r in loads), "loaded artifact has the wrong size"

        def report(what: str, runs: list[dict[str, Any]]) -> None:
            speed = statistics.median(size / MiB / r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu_seconds"] for r in runs)
            peak = max(r["peak_rss"] for r in runs)
            print(
                f"{what}: median {speed:6.1f} MiB/s wall, {cpu:5.2f} CPU-s "
                f"({size / MiB / cpu:6.1f} MiB per CPU-s), over {len(runs)} runs; "
                f"peak RSS {peak / MiB:6.1f} MiB = {peak / size:.2f}x the artifact"
            )

        stored = blob.stat().st_size
        print(
            f"artifact: {args.size_mib} MiB ({args.kind}), {os.cpu_count()} CPUs, "
            f"stored blob {stored / MiB:.1f} MiB ({stored / size:.0%})"
        )
        report("save", saves)
        report("load", loads)
        base = max(r["before_rss"] for r in saves)
        print(f"save: RSS with the artifact in memory, before saving: {base / MiB:.1f} MiB")


if __name__ == "__main__":
    main()
