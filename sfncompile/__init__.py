"""sfncompile: Metaflow-style flows, run locally or compiled to AWS Step Functions.

Flows import from here (or from `metaflow`). This module must stay light: only the stdlib.
"""

from sfncompile.api import (
    JSONType,
    Parameter,
    batch,
    card,
    catch,
    conda,
    conda_base,
    environment,
    exit_hook,
    foreach_options,
    kubernetes,
    project,
    pypi,
    pypi_base,
    resources,
    retry,
    schedule,
    secrets,
    step,
    timeout,
    trigger,
    trigger_on_finish,
)
from sfncompile.current import current
from sfncompile.flowspec import FlowSpec
from sfncompile.user_step import USER_SKIP_STEP, user_step_decorator

__version__ = "0.1.0"

__all__ = [
    "USER_SKIP_STEP",
    "FlowSpec",
    "JSONType",
    "Parameter",
    "batch",
    "card",
    "catch",
    "conda",
    "conda_base",
    "current",
    "environment",
    "exit_hook",
    "foreach_options",
    "kubernetes",
    "project",
    "pypi",
    "pypi_base",
    "resources",
    "retry",
    "schedule",
    "secrets",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
    "user_step_decorator",
]
