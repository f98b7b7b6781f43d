"""Which tasks feed a task: found from the graph and the task id alone.

A task id is `<step number>-<position>` (conventions/task_ids.py); the position is
`<scope><n>` where `n` counts loop iterations and each enclosing foreach adds `<n>.<index>.`
to the scope: `0` at the top, `0.3.0` for item 3 of a foreach, `0.3.2` for the third pass of
a loop inside it. A task's parents sit at positions derived from its own, so no orchestrator
has to pass parent ids around: the Step Functions state carries only the scope and the
counter, and the runtime derives the rest.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any

from sfncompile.conventions import task_env as env
from sfncompile.conventions.task_ids import parent_candidates, position, task_id
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, Storage

# The foreach variable of `self.next(self.x, num_parallel=N)`, Metaflow's name: each node's
# `self.input` and `self.index` are its node index.
PARALLEL_VAR = "_parallel_ubf_iter"
# How long the main node of a multi-node job waits for the other nodes to end once its own
# task has (Metaflow waits 600 s too): the job ends when its main node does.
NODES_WAIT_SECONDS = 600.0


class LineageError(Exception):
    pass


def foreach_index(task: str) -> int:
    """The innermost foreach index of a task inside a foreach body."""
    return int(position(task).split(".")[-2])


def body_task_id(graph: dict[str, Any], body: str, opener_task: str, index: int) -> str:
    """The first task (of step `body`) of item `index` of the foreach run by `opener_task`."""
    return task_id(graph, body, f"{position(opener_task)}.{index}.0")


def batch_node(environ: Mapping[str, str]) -> int | None:
    """The node index of this container in an AWS Batch multi-node job, else None."""
    value = environ.get(env.BATCH_NODE_INDEX_ENV, "")
    return int(value) if value.isdigit() else None


def node_task_id(gang_task: str, node: int) -> str:
    """A node's task: the multi-node job is given the step's id at the opener's position (as
    a join is), and each node is item `node` of that foreach."""
    return f"{gang_task}.{node}.0"


def parallel_environment(graph: dict[str, Any], step: str, task: str,
                         environ: Mapping[str, str]) -> dict[str, str]:
    """Metaflow's MF_PARALLEL_* for a node of a @parallel step: on AWS Batch from the job's
    variables, in a local run node 0 is the main node at 127.0.0.1."""
    parts = task.split(".")
    nodes = str(parallel_nodes(graph, step))
    main_ip = "127.0.0.1"
    if batch_node(environ) is not None:
        main_ip = environ.get(env.BATCH_MAIN_IP_ENV) or _own_address()
        nodes = environ.get(env.BATCH_NUM_NODES_ENV) or nodes
    return {env.PARALLEL_MAIN_IP_ENV: main_ip, env.PARALLEL_NUM_NODES_ENV: nodes,
            env.PARALLEL_NODE_INDEX_ENV: parts[-2],
            env.PARALLEL_CONTROL_TASK_ENV: node_task_id(".".join(parts[:-2]), 0)}


def _own_address() -> str:
    """The main node's address (AWS gives the others its address, not the main node itself)."""
    try:
        return socket.gethostbyname_ex(socket.gethostname())[-1][0]
    except (OSError, IndexError):
        return "127.0.0.1"


def wait_for_nodes(storage: Storage, graph: dict[str, Any], run: str, step: str, task: str,
                   attempt: int, timeout: float = NODES_WAIT_SECONDS) -> str | None:
    """On the main node: wait until the job's other nodes have ended this attempt; None when
    all committed, else what went wrong (a node failed, or did not end in time)."""
    flow, parts = graph["flow"], task.split(".")
    gang, nodes = ".".join(parts[:-2]), parallel_nodes(graph, step)
    waiting = {node_task_id(gang, i) for i in range(1, nodes)}
    deadline, pause = time.monotonic() + timeout, 0.1
    while waiting:
        for other in sorted(waiting):
            try:
                status = ds.read_meta(storage, flow, run, step, other, attempt).get("status")
            except (KeyNotFound, ds.DamagedRecord):
                continue
            if status == "failed":
                return f"node task {step}/{other} failed"
            if status == "succeeded":
                waiting.discard(other)
        if waiting and time.monotonic() > deadline:
            return (f"node tasks {', '.join(sorted(waiting))} of {step} did not end within "
                    f"{timeout:.0f} s of the main node")
        if waiting:  # nodes of one job end at about the same time: look soon, then less
            time.sleep(pause)
            pause = min(2 * pause, 2.0)
    return None


def parallel_nodes(graph: dict[str, Any], step: str) -> int:
    """The number of nodes of a @parallel step, from its opener in the graph."""
    return int(graph["steps"][graph["steps"][step]["parents"][0]]["num_parallel"])


def find_parent(storage: Storage, graph: dict[str, Any], run: str, step: str,
                task: str) -> tuple[str, str, dict[str, Any]]:
    """The one committed task that led to this (non-join) task, with its done.json."""
    flow = graph["flow"]
    found = []
    for parent, ptask in parent_candidates(graph, step, task):
        attempt = ds.committed_attempt(storage, flow, run, parent, ptask)
        if attempt is None:
            continue
        done = ds.read_done(storage, flow, run, parent, ptask, attempt)
        pinfo = graph["steps"][parent]
        if pinfo["kind"] == "switch" and pinfo["cases"].get(done.get("arm")) != step:
            continue
        found.append((parent, ptask, done))
    if len(found) != 1:
        what = "no" if not found else "several"
        raise LineageError(f"{step}/{task}: {what} committed parent task found among "
                           f"{parent_candidates(graph, step, task)}")
    return found[0]


def join_inputs(storage: Storage, graph: dict[str, Any], run: str, step: str,
                task: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The committed tasks that a join gathers, in branch order or foreach index order."""
    flow = graph["flow"]
    info = graph["steps"][step]
    opener = info["closes"]
    ends = info["branch_ends"]
    here = position(task)
    if graph["steps"][opener]["kind"] == "split":
        out = []
        for end in ends:
            t = task_id(graph, end, here)
            attempt = ds.committed_attempt(storage, flow, run, end, t)
            if attempt is not None:
                out.append((end, t, ds.read_done(storage, flow, run, end, t, attempt)))
        return out
    width = ds.read_done(storage, flow, run, opener, task_id(graph, opener, here))["width"]
    # index -> (loop counter, step, task, attempt)
    latest: dict[int, tuple[int, str, str, int]] = {}
    for end in ends:
        for t, attempt in committed_tasks(storage, flow, run, end).items():
            parts = position(t).split(".")
            if len(parts) < 3 or ".".join(parts[:-2]) != here:
                continue
            index, counter = int(parts[-2]), int(parts[-1])
            if index not in latest or counter > latest[index][0]:
                latest[index] = (counter, end, t, attempt)
    missing = [i for i in range(width) if i not in latest]
    if missing:
        raise LineageError(f"{step}/{task}: foreach items {missing[:10]} of {opener!r} have no "
                           "committed task")
    return [(end, t, ds.read_done(storage, flow, run, end, t, attempt))
            for _, end, t, attempt in (latest[i] for i in range(width))]


def committed_tasks(storage: Storage, flow: str, run: str, step: str) -> dict[str, int]:
    """task id -> its committed (highest done) attempt, from one listing of the step: a wide
    join then reads each input's done.json without listing its task again."""
    prefix = f"{ds.run_prefix(flow, run)}/{step}/"
    found: dict[str, int] = {}
    for key in storage.list(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) == 3 and parts[1].isdigit() and parts[2] == "done.json":
            found[parts[0]] = max(found.get(parts[0], -1), int(parts[1]))
    return found
