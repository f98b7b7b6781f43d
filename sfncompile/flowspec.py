"""FlowSpec: the base class of every flow, and what `self` means inside a running step."""

from __future__ import annotations

from typing import Any


class FlowSpec:
    """Base class of a flow. Steps call `self.next(...)`; joins receive `inputs`."""

    def __init__(self) -> None:
        self._transition: tuple[tuple[str, ...], dict[str, Any]] | None = None

    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None) -> None:
        names: list[str] = []
        if len(targets) == 1 and isinstance(targets[0], dict):
            names = [getattr(t, "__name__", str(t)) for t in targets[0].values()]
        else:
            names = [getattr(t, "__name__", str(t)) for t in targets]
        self._transition = (tuple(names), {"foreach": foreach, "condition": condition})
