"""The `metaflow_version:` system tag of a run: which Metaflow API sfncompile implements and
which sfncompile ran it, as a PEP 440 version with a local part (`2.19+sfncompile.0.1.0`).

Metaflow tags a run with the version that ran it; the client (and code that reads the tag
to learn what wrote a run) reads the Metaflow release first. Local runs (local/runner.py)
and a deployment's Step Functions runs (deploy/machine_options.py) carry the same tag.
"""

from __future__ import annotations

import re
import sys

# The Metaflow release whose API and behaviour sfncompile follows.
METAFLOW_API_VERSION = "2.19"
VERSION_TAG_KEY = "metaflow_version"
_NOT_LOCAL = re.compile(r"[^A-Za-z0-9.]+")


def sfncompile_version() -> str:
    """sfncompile's version (`sfncompile.__version__`, the one source, which pyproject.toml
    reads). The package's root is read from sys.modules, not imported: every layer may call
    this and the root is above them all, yet it is always loaded, as this module's parent.
    (importlib.metadata would cost a run's start some 10 ms to read the same.)"""
    return str(getattr(sys.modules.get("sfncompile"), "__version__", "unknown"))


def version_tag(tool: str | None = None) -> str:
    """`metaflow_version:2.19+sfncompile.<tool>`: a PEP 440 local version label allows only
    letters, digits and dots, so any other run of characters in `tool` becomes a dot."""
    local = _NOT_LOCAL.sub(".", tool or sfncompile_version()).strip(".") or "unknown"
    return f"{VERSION_TAG_KEY}:{METAFLOW_API_VERSION}+sfncompile.{local}"
