"""The source of a flow class defined in a notebook cell, for NBRunner and NBDeployer: the
cell's text (else the flow's module file) up to the end of the class, so that what follows
(the NBRunner or NBDeployer call) does not run again when a task imports the flow."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any


def current_cell() -> str | None:
    """The text of the notebook cell being run, or None outside IPython."""
    try:
        import IPython
    except ImportError:
        return None
    shell: Any = getattr(IPython, "get_ipython", lambda: None)()
    if shell is None:
        return None
    history = shell.history_manager.input_hist_raw
    return str(history[-1]) if history else None


def up_to_flow(text: str, flow_name: str | None = None) -> str | None:
    """`text` up to the end of the class `flow_name` (without a name: of the first direct
    FlowSpec subclass); None when it defines no such class."""
    tree = ast.parse(text)
    flows = [n for n in tree.body if isinstance(n, ast.ClassDef) and (
        n.name == flow_name if flow_name is not None
        else any(ast.unparse(b).split(".")[-1] == "FlowSpec" for b in n.bases))]
    if not flows:
        return None
    end = flows[0].end_lineno or len(text.splitlines())
    return "\n".join(text.splitlines()[:end]) + "\n"


def flow_source(flow: type) -> str | None:
    """The current cell, else the flow's module file, up to the end of `flow`; None when
    neither holds it."""
    text = current_cell()
    if text is None or f"class {flow.__name__}" not in text:
        path = getattr(sys.modules.get(flow.__module__), "__file__", None)
        if not path:
            return None
        text = Path(path).read_text(encoding="utf-8")
    return up_to_flow(text, flow.__name__)
