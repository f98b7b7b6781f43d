"""End to end on moto's Step Functions engine: `sfncompile deploy` and `trigger` through the CLI,
every Batch job running our runtime (from the code package) as a real process against moto's
S3 over HTTP, and the results read back with sfncompile.client. Each shape is also run locally
with the same parameters, and both runs must produce the same artifacts (parity); the two runs
of `foreach_in_split` are also walked with the client (tests/parity/client_walk.py), which
must read the execution as it reads the local run.

moto's gaps are bridged by `sfncompile dev-aws` (sfncompile/devaws, see its README).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from sfncompile import client
from sfncompile.client import task_graph
from tests.deployment import Deployment
from tests.flows import CASES, Case, end_data, run_local
from tests.parity.client_walk import Facts, walk_run

# Each golden shape once, but `decorators`, whose @batch(queue="gpu-queue") names a queue that
# the emulator does not have, and three whose states other shapes here already nest the same
# way (`split_wide`, a wider `split`; `split_nested`; `switch_in_split` and `split_in_foreach`,
# a Choice and a Parallel inside a branch and an iteration, as in `switch_arm_split_foreach`
# and `loop_in_foreach`); the 300-wide local case is replaced by a 100-wide one. `parallel`
# has a test of its own below, which checks its multi-node job as well. The shapes and
# parameter variants left out run locally and in the ASL simulator (tests/test_local_run.py,
# tests/test_properties.py), not here, where every Batch job is a process on moto.
LEFT_OUT = ("decorators", "split_wide", "split_nested", "switch_in_split", "split_in_foreach",
            "parallel")
_ONCE: dict[str, Case] = {}
for _case in CASES:
    if _case.shape not in LEFT_OUT:
        _ONCE.setdefault(_case.shape, _case)
E2E_CASES = [*_ONCE.values(),
             Case("foreach", {"width": "100"}, {"squares": [i * i for i in range(100)]})]


# A foreach and a split: its two runs are also walked with the client (below).
WALKED = next(c for c in E2E_CASES if c.shape == "foreach_in_split")


class Runs(NamedTuple):
    """One case run on Step Functions and locally: each run's datastore root and pathspec."""

    remote: tuple[str, str]
    local: tuple[str, str]


def run_both(case: Case, deployment: Deployment, local_root: Path) -> Runs:
    deployment.deploy(case.flow_file)
    run_id = deployment.trigger(case.flow_file, case.params)
    flow_name = run_id and end_flow_name(case)
    desc = deployment.wait(flow_name, run_id)
    assert desc["status"] == "SUCCEEDED", (desc, deployment.sfn.job_logs()[-4000:])
    local = run_local(case.flow_file, str(local_root), case.params)
    assert local.returncode == 0, local.stderr
    return Runs((deployment.root, f"{flow_name}/{run_id}"),
                (str(local_root), local.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def walked_runs(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return run_both(WALKED, deployment, tmp_path_factory.mktemp("walked") / "local")


@pytest.mark.parametrize("case", E2E_CASES, ids=lambda c: c.id)
def test_deployed_flow_matches_local_run(case: Case, deployment: Deployment, s3_env: None,
                                         tmp_path: Path, request: pytest.FixtureRequest) -> None:
    runs: Runs = request.getfixturevalue("walked_runs") if case is WALKED else \
        run_both(case, deployment, tmp_path / "local")
    remote = end_data(*runs.remote)
    for name, value in case.expect.items():
        assert remote[name] == value, name
    assert remote == end_data(*runs.local)


def end_flow_name(case: Case) -> str:
    from sfncompile.parser import parse_flow

    return parse_flow(case.flow_file).name


def test_parallel_step_is_one_multinode_job(deployment: Deployment, s3_env: None,
                                            tmp_path: Path) -> None:
    """A @parallel step of four nodes is one multi-node Batch job: its definition has the
    node properties AWS requires, each node runs the task of its node index, and the run's
    artifacts are a local run's."""
    case = next(c for c in CASES if c.shape == "parallel")
    deployment.deploy(case.flow_file)
    run_id = deployment.trigger(case.flow_file, {})
    desc = deployment.wait("ParallelFlow", run_id)
    assert desc["status"] == "SUCCEEDED", (desc, deployment.sfn.job_logs()[-4000:])
    batch = deployment.sfn.client("batch")
    jobdef = batch.describe_job_definitions(jobDefinitionName="ParallelFlow-train",
                                            status="ACTIVE")["jobDefinitions"][-1]
    assert jobdef["type"] == "multinode" and "containerProperties" not in jobdef
    nodes = jobdef["nodeProperties"]
    assert (nodes["numNodes"], nodes["mainNode"]) == (4, 0)
    assert [r["targetNodes"] for r in nodes["nodeRangeProperties"]] == ["0:0", "1:3"]
    jobs = [json.loads(p.read_text()) for p in deployment.sfn.job_log_dir.glob("*.json")]
    assert sum(j["jobName"] == "ParallelFlow-train" for j in jobs) == 1  # one job, four nodes
    client.set_datastore_root(deployment.root)
    try:  # every node's task, each of its own node index; node 0 the control task
        nodes_seen = {t.id: (t["node_index"].data, t["is_control"].data, t["num_nodes"].data)
                      for t in client.Run(f"ParallelFlow/{run_id}")["train"]}
        main_ips = {t.id: t["main_ip"].data for t in client.Run(f"ParallelFlow/{run_id}")["train"]}
    finally:
        client.set_datastore_root(None)
    assert nodes_seen == {f"1-0.{i}.0": (i, i == 0, 4) for i in range(4)}
    assert {main_ips[f"1-0.{i}.0"] for i in range(1, 4)} == {"127.0.0.1"}  # AWS Batch's variable
    remote = end_data(deployment.root, f"ParallelFlow/{run_id}")
    for name, value in case.expect.items():
        assert remote[name] == value, name
    local = run_local(case.flow_file, str(tmp_path / "local"), case.params)
    assert local.returncode == 0, local.stderr
    assert remote == end_data(str(tmp_path / "local"), local.stdout.strip().splitlines()[-1])


def walk(root: str, pathspec: str) -> Facts:
    client.set_datastore_root(root)
    client.namespace(None)
    try:
        facts = walk_run(client, client.Run(pathspec),
                         lambda task: task_graph.foreach_indices(task.id),
                         {pathspec.split("/")[1]: "run"})
    finally:
        client.set_datastore_root(None)
        client.default_namespace()
    return json.loads(json.dumps(facts))


# What differs between a run on Step Functions and a local run, besides ids, times and paths:
# where it ran (`runtime`, `ds-type`), and the metadata only a Batch job has (as Metaflow's).
RUNTIME = {"runtime:step-functions": "runtime:dev"}
AWS_ONLY = ("aws-batch-", "code-package")


def as_local(facts: Facts) -> Facts:
    """An execution's facts with where it ran said as a local run's."""
    out = dict(facts)
    for key, value in facts.items():
        if key.endswith("system_tags"):
            out[key] = sorted(RUNTIME.get(t, t) for t in value)
        elif key.endswith(".code"):  # only a run with remote tasks stores its code
            assert value == f"<MetaflowCode: {WALKED.flow_file.name}>", (key, value)
            out[key] = "None"
        elif key.endswith(".metadata_dict"):
            assert (value["runtime"], value["ds-type"]) == ("step-functions", "s3")
            assert "code-package" in value and "aws-batch-job-id" in value, value
            out[key] = {**{k: v for k, v in value.items() if not k.startswith(AWS_ONLY)},
                        "runtime": "dev", "ds-type": "local"}
    return out


def test_the_client_reads_an_execution_as_a_local_run(walked_runs: Runs, s3_env: None) -> None:
    """Lineage (by Metaflow's rules, from the graph in the execution's code package), steps,
    origins, metadata, tags and outcomes of a Step Functions run read as a local run's."""
    remote, local = as_local(walk(*walked_runs.remote)), walk(*walked_runs.local)

    def same(key: str) -> bool:
        mine, other = remote.get(key), local.get(key)
        # Steps are listed newest first; the branches of a split start together, so their
        # order is each run's own (the parity corpus's order-of-concurrent-steps).
        if key in ("run.steps", "run.steps()") and mine and other:
            return sorted(mine) == sorted(other)
        return mine == other

    problems = [f"{k}: execution {remote.get(k)!r} != local {local.get(k)!r}"
                for k in sorted(set(remote) | set(local)) if not same(k)]
    assert not problems, "\n".join(problems)
    assert local["task[each[1]].parents"] == ["fan[]"]  # the walk covers the lineage
    assert local["task[join[]].parents"] == ["fan_join[]", "single[]"]


def test_an_execution_has_the_code_it_ran(walked_runs: Runs, s3_env: None) -> None:
    """`Run.code` of an execution is its code package, read from the datastore (Metaflow's
    `MetaflowCode`); a local run stores none, as Metaflow's."""
    flow_file = WALKED.flow_file
    client.set_datastore_root(walked_runs.local[0])
    client.namespace(None)
    try:
        assert client.Run(walked_runs.local[1]).code is None
        client.set_datastore_root(walked_runs.remote[0])
        code = client.Run(walked_runs.remote[1]).code
        assert code is not None and code.path.startswith(walked_runs.remote[0] + "/")
        assert (code.script_name, code.info["script"]) == (flow_file.name, flow_file.name)
        assert code.flowspec == flow_file.read_text()
        assert {flow_file.name, "sfncompile/runtime/__main__.py"} <= set(code.tarball.getnames())
        with code.extract() as out:
            assert (Path(out) / flow_file.name).read_text() == code.flowspec
            assert not (Path(out) / "sfncompile").exists()  # the user's code, as Metaflow's
    finally:
        client.set_datastore_root(None)
        client.default_namespace()
