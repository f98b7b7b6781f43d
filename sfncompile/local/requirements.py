"""The packages that @pypi/@conda (and their `_base` forms) ask for.

sfncompile builds no environments: a local run checks that this Python can import them and
names the missing ones with the command that installs them; `deploy` says that the image must
provide them and lists them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shlex
import sys

from sfncompile.errors import FlowError
from sfncompile.ir import FlowIR, PackagesIR, SourcePos


def requirement(name: str, version: str) -> str:
    """`numpy==1.26.4` for a bare version (Metaflow pins those), else name + specifier."""
    if not version:
        return name
    return f"{name}=={version}" if version[:1].isdigit() else f"{name}{version}"


def _declared_at(flow: FlowIR, own: PackagesIR | None, name: str) -> PackagesIR:
    if own is not None and name in dict(own.packages):
        return own
    assert flow.packages is not None
    return flow.packages


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        pass
    module = name.replace("-", "_").lower()
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_packages(flow: FlowIR) -> list[FlowError]:
    """One error per decorator whose packages this Python cannot import."""
    missing: dict[SourcePos, tuple[str, list[str], list[str]]] = {}
    for step in flow.analysis.ordered:
        wanted = flow.packages_for(step)
        if wanted is None:
            continue
        for name, version in wanted.packages:
            if _installed(name):
                continue
            origin = _declared_at(flow, step.policies.packages, name)
            deco = origin.manager + ("_base" if origin is flow.packages else "")
            _, steps, reqs = missing.setdefault(origin.pos, (deco, [], []))
            if step.name not in steps:
                steps.append(step.name)
            if requirement(name, version) not in reqs:
                reqs.append(requirement(name, version))
    errors = []
    for pos, (deco, steps, reqs) in missing.items():
        install = (f"{shlex.quote(sys.executable)} -m pip install" if deco.startswith("pypi")
                   else "conda install")
        errors.append(FlowError(
            pos.path, pos.line, pos.col,
            f"@{deco}: {', '.join(reqs)} cannot be imported by this Python "
            f"({sys.executable}), which runs the tasks of step{'s' if len(steps) > 1 else ''} "
            f"{', '.join(repr(s) for s in steps)}; sfncompile builds no environments: install "
            f"them first: {install} {' '.join(shlex.quote(r) for r in reqs)}"))
    return errors


def own_environment_steps(flow: FlowIR) -> dict[str, str]:
    """The steps with @pypi/@conda packages: Metaflow runs them in their own environment, so
    their tasks start in a fresh interpreter, not forked from the process that imported the
    flow module without them in mind."""
    return {step.name: f"@{wanted.manager}" for step in flow.analysis.ordered
            if (wanted := flow.packages_for(step)) is not None}


def image_note(flow: FlowIR) -> list[str]:
    """What `deploy` says about @pypi/@conda packages: the image must provide them."""
    lines = []
    for step in flow.analysis.ordered:
        wanted = flow.packages_for(step)
        if wanted is not None and wanted.packages:
            python = (f" (Python {wanted.python})" if wanted.python else
                      f" (Python `{wanted.python_expr}`, not evaluated)" if wanted.python_expr
                      else "")
            reqs = ", ".join(requirement(n, v) for n, v in wanted.packages)
            lines.append(f"  {step.name}: {reqs}{python}")
    if not lines:
        return []
    return ["Note: sfncompile builds no environments for @pypi/@conda: the image must "
            "provide these packages:", *lines]
