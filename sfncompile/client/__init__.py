"""Reading runs, local or on AWS, from Python or a notebook: Flow, Run, Step, Task and
DataArtifact, namespaces and tags, run records, summaries, cards and triggers.

Imports the datastore, `flow` (current, the `metaflow` alias for unpickling) and
`conventions`; never the compiler, the runtime, AWS deployment or the CLI.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what __getattr__ loads on first use, for type checkers
    from sfncompile.client.core import (
        ArtifactView,
        CodePackageError,
        DamagedRunWarning,
        DataArtifact,
        Flow,
        Metaflow,
        MetaflowCode,
        MetaflowData,
        MetaflowNamespaceMismatch,
        MetaflowObject,
        Run,
        Step,
        Task,
        bind_task_root,
        datastore_root,
        default_metadata,
        default_namespace,
        get_metadata,
        get_namespace,
        metadata,
        namespace,
        set_datastore_root,
    )
    from sfncompile.client.task_metadata import Metadata

__all__ = [
    "ArtifactView",
    "CodePackageError",
    "DamagedRunWarning",
    "DataArtifact",
    "Flow",
    "Metadata",
    "Metaflow",
    "MetaflowCode",
    "MetaflowData",
    "MetaflowNamespaceMismatch",
    "MetaflowObject",
    "Run",
    "Step",
    "Task",
    "bind_task_root",
    "datastore_root",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
    "set_datastore_root",
]


def __getattr__(name: str) -> object:
    # Loaded on first use: the CLI imports the client's small modules (run_summary, ...)
    # at start-up, and must not pay for the datastore with them.
    if name in __all__:
        from sfncompile.client import core

        return getattr(core, name)
    raise AttributeError(f"module 'sfncompile.client' has no attribute {name!r}")
