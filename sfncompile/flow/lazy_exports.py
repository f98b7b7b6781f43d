"""Names `sfncompile` (and so `metaflow`) exports that are imported only when first used."""

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
    "default_metadata": "sfncompile.client.flows",
    "parallel_map": "sfncompile.flow.step_helpers",
    "parallel_imap_unordered": "sfncompile.flow.step_helpers",
    "profile": "sfncompile.flow.step_helpers",
}


def load_lazy_export(name: str) -> object:
    module = LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sfncompile' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
