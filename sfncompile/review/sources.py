"""One side of a comparison: an ASL file, a flow file, or either at a git revision.

`git:REV:path` reads the file with `git show REV:path` from the repository of the current
directory. A flow is parsed statically and built in-process (never imported or run), so a flow
at a revision needs nothing but its own text.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfncompile.errors import UsageError
from sfncompile.review.asl_facts import NotASL, machine_facts
from sfncompile.review.facts import MachineFacts, from_ir, overlay

GIT_PREFIX = "git:"


@dataclass
class Side:
    label: str  # how the user named it
    definition: dict[str, Any]  # the ASL
    facts: MachineFacts


def load_side(spec: str, flow_name: str | None = None) -> Side:
    label = spec
    if spec.startswith(GIT_PREFIX):
        rev, sep, path = spec[len(GIT_PREFIX):].partition(":")
        if not sep or not rev or not path:
            raise UsageError(f"{spec}: expected git:REV:path (for example git:HEAD:flow.py)")
        text = git_show(rev, path, spec)
    else:
        path = spec
        try:
            text = Path(spec).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"{spec}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{spec}: cannot read it: {exc}") from None
    if path.endswith(".py"):
        return side_from_flow(text, label, flow_name)
    return side_from_asl(text, label)


def side_from_flow(text: str, label: str, flow_name: str | None = None) -> Side:
    from sfncompile.emit import compile_asl
    from sfncompile.parser import parse_source

    flow = parse_source(text, label, flow_name)
    definition = compile_asl(flow)
    return Side(label, definition, overlay(machine_facts(definition), from_ir(flow)))


def side_from_asl(text: str, label: str) -> Side:
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{label}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    try:
        return Side(label, definition, machine_facts(definition))
    except NotASL as exc:
        raise UsageError(f"{label}: {exc}") from None


def git_show(rev: str, path: str, spec: str) -> str:
    try:
        proc = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True,
                              text=True, check=False)
    except OSError as exc:
        raise UsageError(f"{spec}: cannot run git: {exc}") from None
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1:] or ["git show failed"]
        raise UsageError(f"{spec}: {reason[0].removeprefix('fatal: ')}")
    return proc.stdout
