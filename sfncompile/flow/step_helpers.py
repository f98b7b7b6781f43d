"""Metaflow's helpers for use inside a step: `parallel_map`, `parallel_imap_unordered` and
`profile` (`metaflow.multicore_utils`, `metaflow.metaflow_profile`).

The maps fork one child per item, as Metaflow's do, so `func` may be a lambda or a closure
(nothing is pickled but the results), and at most `max_parallel` (the CPU count) run at once.
Each child writes its pickled result to a temporary file; a child that fails fails the map.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, NoReturn, TypeVar

A = TypeVar("A")
R = TypeVar("R")


class MulticoreException(Exception):
    """A child of parallel_map failed (its traceback is on stderr)."""


def _child(func: Callable[[Any], Any], arg: Any, out: str) -> NoReturn:
    code = 1
    try:
        result = func(arg)
        with open(out, "wb") as f:
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # never run the parent's cleanup (finally blocks, atexit) here


def _spawn(func: Callable[[Any], Any], arg: Any, dir: str | None) -> tuple[int, str]:
    fd, out = tempfile.mkstemp(prefix="parallel_map_", dir=dir)
    os.close(fd)
    sys.stdout.flush()  # or the child prints what the parent has buffered again
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(func, arg, out)
    return pid, out


def _reap(children: list[tuple[int, str]]) -> tuple[tuple[int, str], int]:
    """Wait until one of the children exits: (it, its exit status)."""
    pause = 0.001
    while True:
        for child in children:
            pid, status = os.waitpid(child[0], os.WNOHANG)
            if pid:
                return child, status
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def parallel_imap_unordered(func: Callable[[A], R], iterable: Iterable[A],
                            max_parallel: int | None = None,
                            dir: str | None = None) -> Iterator[R]:
    """`func` of each item, each in a forked child, yielded as the children finish."""
    if not hasattr(os, "fork"):
        raise MulticoreException("parallel_map needs os.fork, which this platform lacks")
    limit = max(1, max_parallel or os.cpu_count() or 1)
    items = iter(iterable)
    children = [_spawn(func, arg, dir) for arg in islice(items, limit)]
    try:
        while children:
            child, status = _reap(children)
            children.remove(child)
            if status != 0:
                raise MulticoreException("a child of parallel_map failed")
            with open(child[1], "rb") as f:
                result = pickle.load(f)
            os.remove(child[1])
            yield result
            children += [_spawn(func, arg, dir) for arg in islice(items, 1)]
    finally:
        for pid, out in children:  # a failure or an abandoned iterator: no orphans left
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            with contextlib.suppress(OSError):
                os.remove(out)


def parallel_map(func: Callable[[A], R], iterable: Iterable[A],
                 max_parallel: int | None = None, dir: str | None = None) -> list[R]:
    """`[func(x) for x in iterable]`, each call in a forked child, in the items' order."""
    indexed = parallel_imap_unordered(lambda pair: (pair[0], func(pair[1])),
                                      enumerate(iterable), max_parallel, dir)
    return [result for _, result in sorted(indexed, key=lambda pair: pair[0])]


@contextlib.contextmanager
def profile(label: str, stats_dict: dict[str, int] | None = None) -> Iterator[None]:
    """Time the block in milliseconds: printed, or added to `stats_dict[label]`."""
    if stats_dict is None:
        print(f"PROFILE: {label} starting")
    start = time.time()
    yield
    took = int((time.time() - start) * 1000)
    if stats_dict is None:
        print(f"PROFILE: {label} completed in {took}ms")
    else:
        stats_dict[label] = stats_dict.get(label, 0) + took
