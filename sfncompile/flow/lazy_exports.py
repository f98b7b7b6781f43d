"""Names `sfncompile` (and so `metaflow`) exports, each imported only when first used.

The flow API too: every module of the compiler (`sfncompile.parser`, ...) lives under the
`sfncompile` package and so runs its `__init__` first, and `build` needs no FlowSpec.
"""

from __future__ import annotations

import importlib

# name -> the module that defines it
LAZY_EXPORTS: dict[str, str] = {
    "Metaflow": "sfncompile.client",
    "Flow": "sfncompile.client",
    "Run": "sfncompile.client",
    "Step": "sfncompile.client",
    "Task": "sfncompile.client",
    "DataArtifact": "sfncompile.client",
    "namespace": "sfncompile.client",
    "get_namespace": "sfncompile.client",
    "default_namespace": "sfncompile.client",
    "get_metadata": "sfncompile.client",
    "metadata": "sfncompile.client",
    "S3": "sfncompile.runtime.s3",
    "Runner": "sfncompile.local.python_api",
    "NBRunner": "sfncompile.local.python_api",
    "Deployer": "sfncompile.deploy.python_api",
    "DeployedFlow": "sfncompile.deploy.python_api",
    "NBDeployer": "sfncompile.deploy.python_api",
    "publish_event": "sfncompile.runtime.publish",
    "default_metadata": "sfncompile.client",
    "parallel_map": "sfncompile.flow.step_helpers",
    "parallel_imap_unordered": "sfncompile.flow.step_helpers",
    "profile": "sfncompile.flow.step_helpers",
}


# What every flow imports: `sfncompile` keeps each after its first use.
FLOW_API: dict[str, str] = {
    **dict.fromkeys(["JSONType", "JSONTypeClass", "Parameter", "batch", "card", "catch", "conda",
                     "conda_base", "environment", "exit_hook", "foreach_options", "kubernetes",
                     "parallel", "project", "pypi", "pypi_base", "resources", "retry",
                     "schedule", "secrets", "step", "timeout", "trigger", "trigger_on_finish"],
                    "sfncompile.flow.api"),
    "current": "sfncompile.flow.current",
    "FlowSpec": "sfncompile.flow.flowspec",
    **dict.fromkeys(["Config", "ConfigValue", "IncludeFile", "config_expr"],
                    "sfncompile.flow.inputs"),
    **dict.fromkeys(["USER_SKIP_STEP", "FlowMutator", "StepMutator", "UserStepDecorator",
                     "user_step_decorator"], "sfncompile.flow.user_step"),
}


def load_lazy_export(name: str) -> object:
    module = FLOW_API.get(name) or LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sfncompile' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
