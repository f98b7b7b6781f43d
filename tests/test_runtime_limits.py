"""Runtime guarantees that only show at scale or on AWS: attempt numbers never reused (a
redrive starts counting again), and an Inline foreach never outgrows the history limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import LocalStorage
from sfncompile.parser import parse_flow
from tests.conftest import GOLDEN
from tests.flows import run_local

FAILS_ONCE = '''
from pathlib import Path
from sfncompile import FlowSpec, step


class OnceFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.shaky)

    @step
    def shaky(self):
        marker = Path(__file__).with_name("fail")
        if marker.exists():
            raise RuntimeError("failing while the marker exists")
        self.ok = True
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_rerun_of_the_same_attempt_gets_a_new_number(tmp_path: Path) -> None:
    flow_file = tmp_path / "once.py"
    flow_file.write_text(FAILS_ONCE)
    (tmp_path / "fail").touch()
    root = tmp_path / "store"
    proc = run_local(flow_file, str(root))
    assert proc.returncode == 1
    run = proc.stdout.strip().splitlines()[-1].split("/")[1]
    (tmp_path / "fail").unlink()
    # What a redrive does: the same task again, with Step Functions' attempt count at 0.
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps(parse_flow(flow_file).graph_json()))
    rerun = subprocess.run(
        [sys.executable, "-m", "sfncompile.runtime", "--step", "shaky", "--run", run,
         "--task", "1-0", "--attempt", "0", "--root", str(root), "--graph", str(graph),
         "--flow-file", str(flow_file)], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    storage = LocalStorage(root)
    assert ds.list_attempts(storage, "OnceFlow", run, "shaky", "1-0") == [0, 1]
    assert ds.committed_attempt(storage, "OnceFlow", run, "shaky", "1-0") == 1
    failed = ds.read_log(storage, "OnceFlow", run, "shaky", "1-0", 0, "stderr").decode()
    assert "failing while the marker exists" in failed  # the first attempt's log is intact
    assert ds.read_done(storage, "OnceFlow", run, "shaky", "1-0")["retry_count"] == 0


def test_an_inline_foreach_wider_than_the_history_allows_is_refused(tmp_path: Path) -> None:
    flow = GOLDEN / "foreach" / "flow.py"
    cap = parse_flow(flow).analysis.max_inline_width["start"]
    proc = run_local(flow, str(tmp_path / "store"), {"width": str(cap + 1)})
    assert proc.returncode == 1
    assert f"has {cap + 1} items; an Inline Map of this flow holds at most {cap}" in proc.stderr
    assert "@foreach_options(mode='distributed')" in proc.stderr


def test_a_node_of_a_multinode_job_takes_its_task_from_aws_batch(tmp_path: Path) -> None:
    """In a Batch container of a @parallel step, the runtime runs the task of the node AWS
    names (`AWS_BATCH_JOB_NODE_INDEX`), with the main node's address AWS gives; the main node
    waits for the others and fails when one of them failed."""
    import os

    from sfncompile.runtime import lineage

    flow_file = GOLDEN / "parallel" / "flow.py"
    root = str(tmp_path / "root")
    proc = run_local(flow_file, root)
    assert proc.returncode == 0, proc.stderr
    run = proc.stdout.strip().splitlines()[-1].split("/")[1]
    graph = parse_flow(flow_file).graph_json()
    (tmp_path / "graph.json").write_text(json.dumps(graph))
    env = {**os.environ, "AWS_BATCH_JOB_NODE_INDEX": "2", "AWS_BATCH_JOB_NUM_NODES": "4",
           "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS": "10.0.0.7"}
    node = subprocess.run(
        [sys.executable, "-m", "sfncompile.runtime", "--step", "train", "--run", run,
         "--task", "0", "--attempt", "1", "--root", root, "--graph", str(tmp_path / "graph.json"),
         "--flow-file", str(flow_file)], env=env, capture_output=True, text=True)
    assert node.returncode == 0, node.stderr
    storage = LocalStorage(root)
    done = ds.read_done(storage, "ParallelFlow", run, "train", "0.2.0", 1)
    main_ip = ds.load_artifact(storage, "ParallelFlow", done["artifacts"]["main_ip"], "main_ip",
                               None)
    assert main_ip == "10.0.0.7"
    # Node 0 of attempt 1 waits for nodes 1 and 3 (node 2 committed above): one failed.
    ds.TaskStore(storage, "ParallelFlow", run, "train", "0.1.0", 1).write_meta(
        {"status": "failed"})
    ds.TaskStore(storage, "ParallelFlow", run, "train", "0.3.0", 1).write_meta(
        {"status": "succeeded"})
    problem = lineage.wait_for_nodes(storage, graph, run, "train", "0.0.0", 1, timeout=5)
    assert problem == "node task train/0.1.0 failed"
    ds.TaskStore(storage, "ParallelFlow", run, "train", "0.1.0", 1).write_meta(
        {"status": "succeeded"})
    assert lineage.wait_for_nodes(storage, graph, run, "train", "0.0.0", 1, timeout=5) is None
