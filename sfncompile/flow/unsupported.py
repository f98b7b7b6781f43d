"""Metaflow's names that sfncompile does not provide, and why: importable, refused where used.

A flow written for Metaflow may import them (Metaflow's own test flows import
`pytorch_parallel` and the mutators whether they use them or not), so `from metaflow import X`
never fails for a name of Metaflow 2.19. The parser reports each use at its `path:line:col`
when the flow is built; at run time the name is a placeholder that raises a clear error,
with the place of the use, when it is called, subclassed or read.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any, NoReturn

from sfncompile.exception import MetaflowException

_PARSER = ("parses a Config's text, and sfncompile reads a Config as JSON when the flow is "
           "built (Config's parser= is not supported)")
_INTERNAL = "is a module of Metaflow's own machinery, which sfncompile does not have"

# Each reason follows the name in a sentence: "metaflow.parallel runs a step as a gang ...".
UNSUPPORTED: dict[str, str] = {
    # decorators that no backend of sfncompile runs
    "pytorch_parallel": "runs a step as a gang of PyTorch nodes and sets torch.distributed "
                        "up, which sfncompile does not; use @parallel and start "
                        "torch.distributed from current.parallel",
    "airflow_s3_key_sensor": "is an Airflow sensor; use @trigger with an event that the "
                             "object's producer publishes",
    "airflow_external_task_sensor": "is an Airflow sensor; use @trigger_on_finish to start "
                                    "after another flow",
    "airflow_internal": "is internal to Metaflow's Airflow integration and never written in "
                        "a flow; remove it",
    "argo_workflows_internal": "is internal to Metaflow's Argo Workflows integration and "
                               "never written in a flow; remove it",
    "step_functions_internal": "is internal to Metaflow's Step Functions integration and "
                               "never written in a flow; remove it",
    "unbounded_test_foreach_internal": "is internal to Metaflow's test suite and never "
                                       "written in a flow; remove it",
    # APIs
    "inspect_spin": "inspects a `spin` run, and sfncompile has no spin command; read runs "
                    "with the client (Flow, Run, Task)",
    "namespaced_event_name": "names an event in @project's namespace, which sfncompile does "
                             "not resolve; write the event's name out",
    "package_sources": "is a FlowMutator of Metaflow's code packaging; sfncompile packages "
                       "the flow's directory itself",
    "yaml_parser": _PARSER,
    "requirements_txt_parser": _PARSER,
    "pyproject_toml_parser": _PARSER,
    "conda_environment_yml_parser": _PARSER,
    "R": "is Metaflow's R bridge, which sfncompile does not have",
    "EXT_PKG": "names Metaflow's extension package, and sfncompile loads no Metaflow "
               "extensions",
    # modules of Metaflow's machinery
    **{name: _INTERNAL for name in (
        "cli_args", "cmd_with_io", "datastore", "debug", "event_logger", "extension_support",
        "graph", "meta_files", "metadata_provider", "metaflow_config_funcs",
        "metaflow_environment", "metaflow_git", "metaflow_version", "mflog", "monitor",
        "package", "packaging_sys", "sidecar", "system_context", "tagging_util", "tracing",
        "tuple_util", "unbounded_foreach", "util", "version")},
}

_OWN = "sfncompile"


class NotSupportedError(MetaflowException):
    """A use of a Metaflow name that sfncompile does not provide."""

    headline = "Not supported by sfncompile"


def _user_frame() -> FrameType | None:
    """The innermost frame outside sfncompile: where the user's code made the use."""
    frame = sys._getframe(1)
    while frame is not None:
        spec = frame.f_globals.get("__spec__")  # `python -m sfncompile...` runs as __main__
        module = getattr(spec, "name", None) or frame.f_globals.get("__name__", "")
        if module != _OWN and not module.startswith(_OWN + "."):
            return frame
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _where(frame: FrameType | None) -> str:
    """`path:line:col` of the frame's current instruction (`path:line` before Python 3.11)."""
    if frame is None:
        return "<unknown>"
    col = None
    if hasattr(frame.f_code, "co_positions"):  # 3.11+: the column of the instruction
        positions = list(frame.f_code.co_positions())
        index = frame.f_lasti // 2
        if 0 <= index < len(positions):
            col = positions[index][2]
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{where}:{col + 1}" if col is not None else where


def refuse(message: str) -> NoReturn:
    """Raise NotSupportedError at the user's use, `path:line:col: message`. In a script run
    as `python flow.py`, where the flow's class body makes the use before sfncompile's
    command line can report it, print it as the command line would and exit 2."""
    frame = _user_frame()
    text = f"{_where(frame)}: {message}"
    if (frame is not None and frame.f_globals.get("__name__") == "__main__"
            and frame.f_globals.get("__file__") and not hasattr(sys, "ps1")):
        print(f"error: {text}", file=sys.stderr)
        raise SystemExit(2)
    raise NotSupportedError(text)


def unsupported_message(name: str) -> str:
    return f"metaflow.{name} {UNSUPPORTED[name]}"


def mutator_message(name: str, kind: str) -> str:
    """Why `@name`, a StepMutator or FlowMutator, cannot be applied (the parser says it too)."""
    return (f"@{name} is a {kind}: it adds decorators or parameters when Metaflow loads the "
            "flow, and sfncompile compiles a flow without running it; write what it would "
            "add in the flow itself")


class Unsupported:
    """What `from metaflow import X` gives for a name of UNSUPPORTED: usable in no way."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __repr__(self) -> str:
        return f"<metaflow.{self._name}: not supported by sfncompile>"

    def _refuse(self) -> NoReturn:
        refuse(unsupported_message(self._name))

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __getattr__(self, attr: str) -> NoReturn:
        if attr.startswith("__"):  # copy, pickle and inspect probe dunders
            raise AttributeError(attr)
        self._refuse()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> NoReturn:
        self._refuse()

    def __getitem__(self, key: Any) -> NoReturn:
        self._refuse()

    def __iter__(self) -> NoReturn:
        self._refuse()

    def __enter__(self) -> NoReturn:
        self._refuse()

    def __exit__(self, *exc: object) -> None:
        return None
