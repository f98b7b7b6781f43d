"""Running golden flows for real, and what each must produce (shared by the local and the
Step Functions tests, so both paths are held to the same results)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfncompile import client
from tests.conftest import GOLDEN


@dataclass(frozen=True)
class Case:
    shape: str
    params: dict[str, str] = field(default_factory=dict)
    # artifact name -> expected value, on the end task
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.shape}[{extra}]" if extra else self.shape

    @property
    def flow_file(self) -> Path:
        return GOLDEN / self.shape / "flow.py"


def _nested_values() -> list[int]:
    return [x + y + z for x in (1, 2) for y in (10, 20) for z in (100, 200, 300)]


CASES = [
    Case("linear", {}, {"result": 30, "numbers": [0, 1, 2]}),
    Case("linear", {"count": "5"}, {"result": 100}),
    Case("split", {}, {"result": [10, 25], "from_double": 10, "base": 5}),
    Case("split_nested", {}, {"total": 15}),
    Case("split_wide", {}, {"total": sum(range(40)), "count": 40}),
    Case("foreach", {}, {"squares": [0, 1, 4, 9], "positions": [0, 1, 2, 3]}),
    Case("foreach", {"width": "300"}, {"squares": [i * i for i in range(300)],
                                       "positions": list(range(300))}),
    Case("foreach_nested", {}, {"values": _nested_values(), "total": sum(_nested_values())}),
    Case("foreach_distributed", {}, {"total": 15}),
    Case("switch", {}, {"result": "quick"}),
    Case("switch", {"mode": "slow"}, {"result": "thorough"}),
    Case("switch_nested", {}, {"label": "big-odd"}),
    Case("switch_nested", {"size": "8"}, {"label": "big-even"}),
    Case("switch_nested", {"size": "2"}, {"label": "small"}),
    Case("switch_in_split", {}, {"values": ["left-yes", "right"]}),
    Case("switch_in_foreach", {}, {"outs": [4, 1, 10, 2, 16]}),
    Case("switch_arm_split_foreach", {}, {"result": "ABC"}),
    Case("switch_arm_split_foreach", {"route": "split"}, {"result": 3}),
    Case("loop", {}, {"counter": 4, "seen": [1, 2, 3, 4]}),
    Case("loop_in_foreach", {}, {"steps_per_item": [1, 3, 2]}),
    Case("foreach_in_split", {}, {"total": 607}),
    Case("split_in_foreach", {}, {"values": [8, 15]}),
    Case("foreach_in_switch", {}, {"result": [6, 8]}),
    Case("foreach_in_switch", {"many": "false"}, {"result": [0]}),
    Case("parallel", {}, {"values": [10, 11, 12, 13], "nodes": [0, 1, 2, 3], "sizes": [4],
                          "controls": [True, False, False, False], "positions": [0, 1, 2, 3]}),
    Case("decorators", {"label": "x"}, {"lr": 0.1, "score": 0.9, "label": "x",
                                        "model": {"lr": 0.1}}),
]


def run_local(flow_file: Path, root: str, params: dict[str, str] | None = None,
              *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "sfncompile", "run", str(flow_file), "--datastore-root", root,
            "--max-workers", "4", *extra]
    for key, value in (params or {}).items():
        args += ["--param", f"{key}={value}"]
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd)


def end_data(root: str, pathspec: str) -> dict[str, Any]:
    """Every artifact of the run's end task, read back through the client."""
    client.set_datastore_root(root)
    try:
        run = client.Run(pathspec)
        assert run.successful and run.finished
        task = run.end_task  # the end step: `end`, or the one the run's graph names
        assert task is not None
        return {name: getattr(task.data, name) for name in task.artifact_names}
    finally:
        client.set_datastore_root(None)


def wait_for(predicate: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def default_sigint() -> None:
    """`preexec_fn` for a child a test will Ctrl-C: a shell's background job starts with
    SIGINT ignored, the child would inherit that, and the signal would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
