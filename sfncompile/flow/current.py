"""`current`: what a running step knows about itself."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from sfncompile.conventions.project import user_name
from sfncompile.conventions.task_env import (
    PARALLEL_CONTROL_TASK_ENV,
    PARALLEL_MAIN_IP_ENV,
    PARALLEL_NODE_INDEX_ENV,
    PARALLEL_NUM_NODES_ENV,
)


class Parallel(NamedTuple):
    """`current.parallel`: Metaflow's fields, with its values for a single node by default."""

    main_ip: str = "127.0.0.1"
    num_nodes: int = 1
    node_index: int = 0
    control_task_id: str | None = None


def get_username() -> str | None:
    """Who runs the flow, as Metaflow finds it: METAFLOW_USER, then SUDO_USER, USERNAME and
    USER, never root."""
    return user_name()


def resolve_identity() -> str | None:
    """Metaflow's identity: the default namespace and a run's system tag. `production:<token>`
    when METAFLOW_PRODUCTION_TOKEN is set, else `user:<name>`; None when neither is known
    (where Metaflow raises MetaflowUnknownUser)."""
    token = os.environ.get("METAFLOW_PRODUCTION_TOKEN")
    if token:
        return f"production:{token}"
    user = get_username()
    return f"user:{user}" if user else None


def version_tag() -> str:
    """The system tag naming the tool that runs a flow (Metaflow's `metaflow_version:`): the
    installed distribution's version (not `sfncompile.__version__`: the root is above us)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool = version("sfncompile")
    except PackageNotFoundError:
        tool = "unknown"
    return f"sfncompile_version:{tool}"


class Current:
    def __init__(self) -> None:
        self.flow_name: str | None = None
        self.run_id: str | None = None
        self.step_name: str | None = None
        self.task_id: str | None = None
        self.retry_count: int = 0
        self.origin_run_id: str | None = None
        self.is_running_flow: bool = False
        self.username: str | None = None
        self.namespace: str | None = None
        self.parameter_names: list[str] = []
        self._tags: set[str] | None = None
        self._read_tags: Callable[[], list[str]] | None = None
        self.card: Any = None  # the step's cards (runtime/card_writer.py) while a task runs
        # @project (sfncompile.conventions.project); None without it
        self.project_name: str | None = None
        self.branch_name: str | None = None
        self.is_production: bool | None = None
        self.is_user_branch: bool | None = None
        self.project_flow_name: str | None = None
        self._trigger: Any = None
        self._load_trigger: Callable[[], Any] | None = None
        # Set by the runtime for a task: built when first asked for (see the properties).
        self._graph_info: dict[str, Any] | None = None
        self._load_graph: Callable[[], dict[str, Any]] | None = None
        self._make_task: Callable[[], Any] | None = None
        self._make_run: Callable[[], Any] | None = None

    @property
    def trigger(self) -> Any:
        """The `sfncompile.client.trigger.Trigger` of a run that an event started, else None; read
        from the datastore the first time it is asked for."""
        if self._load_trigger is not None:
            self._trigger, self._load_trigger = self._load_trigger(), None
        return self._trigger

    @property
    def pathspec(self) -> str | None:
        if self.run_id is None:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def task(self) -> Any:
        """The running task as the client's `Task` (a new one each time, as Metaflow's);
        None outside a task."""
        return self._make_task() if self._make_task is not None else None

    @property
    def run(self) -> Any:
        """The running run as the client's `Run`; None outside a task."""
        return self._make_run() if self._make_run is not None else None

    @property
    def graph(self) -> dict[str, Any]:
        """The flow's graph as Metaflow's `current.graph` gives it (`steps`, each with its
        `type`, `next`, `line`, `doc`, ...; `graph_structure`, `parameters`, ...)."""
        if self._graph_info is None:
            if self._load_graph is None:
                raise RuntimeError("Graph is not available")  # Metaflow's words
            self._graph_info = self._load_graph()
        return self._graph_info

    @property
    def tempdir(self) -> str:
        """Metaflow's configured temporary directory: METAFLOW_TEMPDIR, else `.`."""
        return os.environ.get("METAFLOW_TEMPDIR") or "."

    @property
    def parallel(self) -> Parallel:
        """Metaflow's fields, read from what the runtime sets for a @parallel step's node
        (and a single node's values elsewhere)."""
        env = os.environ
        return Parallel(main_ip=env.get(PARALLEL_MAIN_IP_ENV, "127.0.0.1"),
                        num_nodes=int(env.get(PARALLEL_NUM_NODES_ENV, "1")),
                        node_index=int(env.get(PARALLEL_NODE_INDEX_ENV, "0")),
                        control_task_id=env.get(PARALLEL_CONTROL_TASK_ENV))

    @property
    def tags(self) -> set[str]:
        """The run's tags (`run --tag`), read from the run's record on first use."""
        if self._tags is None:
            self._tags = set(self._read_tags()) if self._read_tags is not None else set()
        return self._tags

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: str) -> bool:
        return getattr(self, key, None) is not None

    def _set(self, read_tags: Callable[[], list[str]] | None = None,
             load_graph: Callable[[], dict[str, Any]] | None = None,
             make_task: Callable[[], Any] | None = None,
             make_run: Callable[[], Any] | None = None, **values: object) -> None:
        self.username = get_username()
        self.namespace = resolve_identity()
        self._tags, self._read_tags = None, read_tags
        self._graph_info, self._load_graph = None, load_graph
        self._make_task, self._make_run = make_task, make_run
        for key, value in values.items():
            setattr(self, key, value)
        self.is_running_flow = True


current = Current()
