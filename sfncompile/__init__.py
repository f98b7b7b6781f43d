"""sfncompile: Metaflow-style flows, run locally or compiled to AWS Step Functions.

Flows import from here (or from `metaflow`). This module must stay light: only the stdlib.
"""

from sfncompile.api import (
    JSONType,
    Parameter,
    batch,
    card,
    catch,
    environment,
    foreach_options,
    resources,
    retry,
    schedule,
    secrets,
    step,
    timeout,
)
from sfncompile.current import current
from sfncompile.flowspec import FlowSpec
from sfncompile.lazy_exports import LAZY_EXPORTS, load_lazy_export

__version__ = "0.1.0"

__all__ = [
    "FlowSpec",
    "JSONType",
    "Parameter",
    "batch",
    "card",
    "catch",
    "current",
    "environment",
    "foreach_options",
    "resources",
    "retry",
    "schedule",
    "secrets",
    "step",
    "timeout",
    *LAZY_EXPORTS,
]


def __getattr__(name: str) -> object:
    # The client, S3 and Runner import more than a flow needs: loaded on first use.
    return load_lazy_export(name)

