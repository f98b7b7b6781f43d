"""Every golden flow shape runs locally, task by task in real processes, with the results
read back through sfncompile.client; one shape of each kind again with the datastore on S3
(moto).

Every shape also runs against S3 in tests/test_e2e.py, where each Batch job's runtime reads
and writes the datastore on moto; here the S3 runs check the local runner with an S3 root
(linear, split, foreach, nested foreach, a switch in a foreach, a loop in a foreach), and
the 300-wide foreach runs on the local root only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flows import CASES, Case, end_data, run_local

ON_S3 = frozenset({"linear", "split", "foreach", "foreach_nested", "switch_in_foreach",
                   "loop_in_foreach"})
RUNS = [pytest.param(case, where, id=f"{where}-{case.id}")
        for where in ("local", "s3") for case in CASES
        if where == "local" or (case.id in ON_S3 and not case.params)]


@pytest.mark.parametrize(("case", "where"), RUNS)
def test_golden_flow_runs(case: Case, where: str, request: pytest.FixtureRequest,
                          tmp_path: Path) -> None:
    root = (str(tmp_path / "store") if where == "local"
            else f"s3://{request.getfixturevalue('s3_bucket')}/runs")
    proc = run_local(case.flow_file, root, case.params)
    assert proc.returncode == 0, proc.stderr
    pathspec = proc.stdout.strip().splitlines()[-1]
    assert pathspec.startswith(proc.stderr.split("Run ")[1].split("/")[0] + "/")
    data = end_data(root, pathspec)
    for name, value in case.expect.items():
        assert data[name] == value, name


OPTION_PARAMS_FLOW = """
from sfncompile import FlowSpec, Parameter, step


class OptionParamsFlow(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)
    learning_rate = Parameter("learning-rate", default=0.1, type=float)
    label = Parameter("label", default="x")

    @step
    def start(self):
        self.seen = (self.alpha, self.learning_rate, self.label)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_run_takes_parameters_as_metaflow_options(tmp_path: Path) -> None:
    """`sfncompile run flow.py --alpha 3`, as Metaflow's `run --alpha 3`, beside --param."""
    flow = tmp_path / "flow.py"
    flow.write_text(OPTION_PARAMS_FLOW)
    root = str(tmp_path / "root")
    proc = run_local(flow, root, {"label": "given"}, "--alpha", "3", "--learning-rate=0.5")
    assert proc.returncode == 0, proc.stderr
    assert end_data(root, proc.stdout.strip().splitlines()[-1])["seen"] == (3, 0.5, "given")


GANG_FLOW = """
import os, time
from sfncompile import FlowSpec, current, parallel, step


class GangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        # A rendezvous, as torch.distributed's: every node must be up at once.
        here = os.environ["GANG_DIR"]
        open(os.path.join(here, str(current.parallel.node_index)), "w").close()
        deadline = time.monotonic() + 20
        while len(os.listdir(here)) < current.parallel.num_nodes:
            assert time.monotonic() < deadline, "the other nodes never started"
            time.sleep(0.02)
        self.env = {k: os.environ[k] for k in ("MF_PARALLEL_MAIN_IP", "MF_PARALLEL_NUM_NODES",
                                               "MF_PARALLEL_NODE_INDEX",
                                               "MF_PARALLEL_CONTROL_TASK_ID")}
        self.next(self.join)

    @step
    def join(self, inputs):
        self.envs = [i.env for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_parallel_nodes_start_together_beside_max_workers(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """--max-workers 1 still starts the three nodes of a @parallel step at once, each with
    Metaflow's MF_PARALLEL_* variables."""
    flow = tmp_path / "flow.py"
    flow.write_text(GANG_FLOW)
    (tmp_path / "gang").mkdir()
    monkeypatch.setenv("GANG_DIR", str(tmp_path / "gang"))
    root = str(tmp_path / "root")
    proc = run_local(flow, root, {}, "--max-workers", "1")
    assert proc.returncode == 0, proc.stderr
    envs = end_data(root, proc.stdout.strip().splitlines()[-1])["envs"]
    assert envs == [{"MF_PARALLEL_MAIN_IP": "127.0.0.1", "MF_PARALLEL_NUM_NODES": "3",
                     "MF_PARALLEL_NODE_INDEX": str(i), "MF_PARALLEL_CONTROL_TASK_ID": "1-0.0.0"}
                    for i in range(3)]
