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
    from sfncompile.runtime import datastore
    from sfncompile.runtime.storage import LocalStorage

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
    from sfncompile.flowspec import Binding, FlowSpec
    from sfncompile.runtime import datastore

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
    from sfncompile.runtime import datastore
    from sfncompile.runtime.storage import LocalStorage

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
    with tempfile.TemporaryDirectory(prefix="sfn-bench-") as tmp:
        data = Path(tmp, "data.bin")
        _generate(data, args.kind, size)
        results = {v: _measure_version(args, Path(tmp, v), data, code)
                   for v, code in versions.items()}
    stored = results["this"]["stored"]
    print(f"artifact: {args.size_mib} MiB ({args.kind}), {os.cpu_count()} CPUs, "
          f"stored blob {stored / MiB:.1f} MiB ({stored / size:.0%}); "
          f"medians of {args.runs} runs, each in a fresh process")
    rows = [
        ("save, new blob", "save", "s"), ("load", "load", "s"),
        ("save, blob exists", "resave", "s"), ("read unchanged, then save", "reread", "s"),
        ("small artifact: save", "small_save", "ms"), ("small artifact: load", "small_load", "ms"),
    ]
    for label, key, unit in rows:
        line = f"{label:28}"
        for v in versions:
            r = results[v][key]
            value = r["seconds"] if unit == "s" else r["ms"]
            line += f" {v}: {value:8.3f} {unit}"
            if "cpu" in r:
                line += f" ({r['cpu']:.2f} CPU-s)"
            if "peak" in r:
                line += f" peak RSS {r['peak'] / size:.2f}x"
            if key == "reread":
                line += f", {r['saved']} artifact(s) saved"
        if args.baseline:
            ratio = results["baseline"][key]
            mine = results["this"][key]
            field = "seconds" if unit == "s" else "ms"
            line += f"  -> baseline/this = {ratio[field] / mine[field]:.2f}x"
        print(line)


def _measure_version(args: argparse.Namespace, tmp: Path, data: Path, code: str
                     ) -> dict[str, Any]:
    size = args.size_mib * MiB
    out: dict[str, Any] = {}

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"seconds": statistics.median(r["seconds"] for r in runs),
                "cpu": statistics.median(r["cpu_seconds"] for r in runs),
                "peak": max(r["peak_rss"] for r in runs)}

    saves, roots = [], []
    for i in range(args.runs):
        root = tmp / f"root{i}"  # a fresh root per run: dedup would skip the upload
        saves.append(_measure(args, "--child", "save", "--data", str(data), "--root",
                              str(root), code=code))
        roots.append(root)
    sha = saves[0]["sha"]
    out["stored"] = next(roots[0].rglob(sha)).stat().st_size
    for root in roots[1:]:
        shutil.rmtree(root)
    common = ("--root", str(roots[0]), "--sha", sha)
    loads = [_measure(args, "--child", "load", *common, code=code) for _ in range(args.runs)]
    assert all(r["nbytes"] == size for r in loads), "loaded artifact has the wrong size"
    resaves = [_measure(args, "--child", "resave", "--data", str(data), *common, code=code)
               for _ in range(args.runs)]
    rereads = [_measure(args, "--child", "reread", *common, code=code)
               for _ in range(args.runs)]
    smalls = [_measure(args, "--child", "small", "--count", str(args.count), "--root",
                       str(tmp / f"small{i}"), code=code) for i in range(args.runs)]
    out.update(save=summary(saves), load=summary(loads), resave=summary(resaves),
               reread=summary(rereads) | {"saved": rereads[0]["saved"]},
               small_save={"ms": statistics.median(r["save_ms"] for r in smalls)},
               small_load={"ms": statistics.median(r["load_ms"] for r in smalls)})
    shutil.rmtree(roots[0])
    return out

if __name__ == "__main__":
    main()
