"""sfncompile: Metaflow-style flows, run locally or compiled to AWS Step Functions.

Flows import from here (or from `metaflow`). This module must stay light: only the stdlib.
"""

from sfncompile.api import (
    JSONType,
    Parameter,
    batch,
    catch,
    environment,
    foreach_options,
    project,
    resources,
    retry,
    schedule,
    step,
    timeout,
    trigger,
    trigger_on_finish,
)
from sfncompile.current import current
from sfncompile.flowspec import FlowSpec

__version__ = "0.1.0"

__all__ = [
    "FlowSpec",
    "JSONType",
    "Parameter",
    "batch",
    "catch",
    "current",
    "environment",
    "foreach_options",
    "project",
    "resources",
    "retry",
    "schedule",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
]
