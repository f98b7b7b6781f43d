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
    resources,
    retry,
    schedule,
    step,
    timeout,
)
from sfncompile.current import current
from sfncompile.flow_inputs import Config, IncludeFile, config_expr
from sfncompile.flowspec import FlowSpec

__version__ = "0.1.0"

__all__ = [
    "Config",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Parameter",
    "batch",
    "catch",
    "config_expr",
    "current",
    "environment",
    "foreach_options",
    "resources",
    "retry",
    "schedule",
    "step",
    "timeout",
]
