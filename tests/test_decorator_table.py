"""The README's decorator table against the decorators the installed `metaflow` exports.

A new Metaflow decorator fails here until it has a row (implemented, accepted with a meaning,
or refused with what to use instead); a changed argument or default fails here too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sfncompile.parser.decorators import CLASS_DECORATORS, STEP_DECORATORS
from sfncompile.parser.support import SUPPORT, markdown_table

README = Path(__file__).parent.parent / "README.md"
# Parsed into their own IR (ir.EventTriggerIR, FinishTriggerIR, ProjectIR), not by the tables.
OWN_PARSING = {"trigger", "trigger_on_finish", "project"}


def readme_rows() -> dict[str, list[str]]:
    rows = {}
    for line in README.read_text().splitlines():
        m = re.match(r"\| `@(\w+)` \|", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in line.strip("|").split("|")]
    return rows


def metaflow_decorators() -> dict[str, dict[str, Any]]:
    """Name -> defaults of every decorator the installed metaflow exports."""
    import metaflow
    from metaflow.plugins import FLOW_DECORATORS, STEP_DECORATORS

    found = {d.name: dict(d.defaults) for d in [*STEP_DECORATORS, *FLOW_DECORATORS]
             if hasattr(metaflow, d.name)}
    return {**found, "step": {}, "user_step_decorator": {}}


def test_readme_table_lists_every_metaflow_decorator() -> None:
    exported = metaflow_decorators()
    rows = readme_rows()
    assert sorted(rows) == sorted(exported), "README rows vs metaflow's exports"
    assert sorted(SUPPORT) == sorted(exported)
    for name, cells in rows.items():
        assert cells[2] in ("implemented", "accepted", "refused"), (name, cells)
        assert cells[3] in ("implemented", "accepted", "refused"), (name, cells)
        assert cells[4], f"@{name} needs a meaning (or what to use instead)"
    assert markdown_table() in README.read_text(), "README table differs from support.py"


def test_arguments_and_defaults_are_metaflows() -> None:
    for name, defaults in metaflow_decorators().items():
        support = SUPPORT[name]
        if support.local == support.aws == "refused" or name in OWN_PARSING:
            continue
        if support.scope == "function" or name == "step":
            continue
        table = STEP_DECORATORS if support.scope == "step" else CLASS_DECORATORS
        ours = table[name]
        assert sorted(ours) == sorted(defaults), f"arguments of @{name}"
        for arg, default in defaults.items():
            assert ours[arg].default == default, f"default of @{name}({arg}=...)"
