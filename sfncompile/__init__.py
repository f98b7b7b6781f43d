"""sfncompile: Metaflow-style flows, run locally or compiled to AWS Step Functions.

Flows import from here (or from `metaflow`). This module must stay light: only the stdlib.
"""

from typing import TYPE_CHECKING

from sfncompile.flow.lazy_exports import FLOW_API, load_lazy_export

if TYPE_CHECKING:  # what __getattr__ loads on first use, for type checkers
    from sfncompile.client import (
        DataArtifact,
        Flow,
        Metaflow,
        Run,
        Step,
        Task,
        default_metadata,
        default_namespace,
        get_metadata,
        get_namespace,
        metadata,
        namespace,
    )
    from sfncompile.deploy.python_api import DeployedFlow, Deployer, NBDeployer
    from sfncompile.flow.api import (
        JSONType,
        JSONTypeClass,
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
        parallel,
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
    from sfncompile.flow.current import current
    from sfncompile.flow.flowspec import FlowSpec
    from sfncompile.flow.inputs import Config, ConfigValue, IncludeFile, config_expr
    from sfncompile.flow.step_helpers import parallel_imap_unordered, parallel_map, profile
    from sfncompile.flow.user_step import (
        USER_SKIP_STEP,
        FlowMutator,
        StepMutator,
        UserStepDecorator,
        user_step_decorator,
    )
    from sfncompile.local.python_api import NBRunner, Runner
    from sfncompile.runtime.publish import publish_event
    from sfncompile.runtime.s3 import S3

__version__ = "0.1.0"  # the one source: pyproject.toml reads it ([tool.setuptools.dynamic])

__all__ = [
    "USER_SKIP_STEP",
    "Config",
    "ConfigValue",
    "FlowMutator",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "JSONTypeClass",
    "Parameter",
    "StepMutator",
    "UserStepDecorator",
    "batch",
    "card",
    "catch",
    "conda",
    "conda_base",
    "config_expr",
    "current",
    "environment",
    "exit_hook",
    "foreach_options",
    "kubernetes",
    "parallel",
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
__all__ += [  # loaded on first use (flow/lazy_exports.py)
    "S3",
    "DataArtifact",
    "DeployedFlow",
    "Deployer",
    "Flow",
    "Metaflow",
    "NBDeployer",
    "NBRunner",
    "Run",
    "Runner",
    "Step",
    "Task",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
    "parallel_imap_unordered",
    "parallel_map",
    "profile",
    "publish_event",
]


def __getattr__(name: str) -> object:
    # Everything is loaded on first use (flow/lazy_exports.py): the client, S3 and Runner
    # import more than a flow needs, and the compiler never uses the flow API.
    value = load_lazy_export(name)
    if name in FLOW_API:
        globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

