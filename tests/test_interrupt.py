"""Ctrl-C during a local run stops the running tasks at once, records the run as failed, and
says how to continue; `resume` then finishes it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from sfncompile import client
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import LocalStorage
from tests.flows import default_sigint

SLOW = '''
import time
from pathlib import Path
from sfncompile import FlowSpec, step


class SlowFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        if Path(__file__).with_name("slow").exists():
            time.sleep(60)
        self.v = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_ctrl_c_stops_tasks_and_resume_finishes(tmp_path: Path) -> None:
    flow = tmp_path / "slow.py"
    flow.write_text(SLOW)
    (tmp_path / "slow").touch()
    root = str(tmp_path / "store")
    proc = subprocess.Popen([sys.executable, "-m", "sfncompile", "run", str(flow),
                             "--datastore-root", root], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    storage = LocalStorage(root)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the nap tasks are running
        runs = ds.list_runs(storage, "SlowFlow") if (tmp_path / "store").exists() else []
        if runs and "nap" in ds.list_steps(storage, "SlowFlow", runs[0]):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    began = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - began < 10  # not the 60 s the tasks would sleep
    assert proc.returncode != 0 and "Traceback" not in err
    assert "Interrupted: running tasks were stopped" in err
    pathspec = err.split("sfncompile resume ")[1].split("`")[0]
    assert ds.read_run_meta(storage, *pathspec.split("/"))["status"] == "failed"

    (tmp_path / "slow").unlink()
    resumed = subprocess.run([sys.executable, "-m", "sfncompile", "resume", pathspec,
                              "--datastore-root", root], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    client.set_datastore_root(root)
    try:
        run = client.Run(resumed.stdout.strip().splitlines()[-1])
        assert run.successful and run["join"].task.data.total == 3
    finally:
        client.set_datastore_root(None)
