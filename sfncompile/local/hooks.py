"""The local runner's side of @exit_hook: once a run has ended, call its hooks in a process of
their own with the flow's module loaded (sfncompile.runtime.exit_hook), as Metaflow does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def call_exit_hooks(graph: dict[str, Any], flow_file: Path, root: str, run_id: str,
                    succeeded: bool) -> None:
    names = (graph.get("exit_hook") or {}).get("on_success" if succeeded else "on_error")
    if not names:
        return
    argv = [sys.executable, "-m", "sfncompile.runtime.exit_hook", "--flow-file", str(flow_file),
            "--flow", graph["flow"], "--root", root, "--run", run_id]
    for name in names:
        argv += ["--hook", name]
    # Hooks print to stderr: the run's last line on stdout stays its name (Flow/run-id).
    subprocess.run(argv, stdout=sys.stderr, check=False)
