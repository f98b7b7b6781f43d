"""The decorators and markers that flows import.

At compile time the parser recognises them by name, statically; at run time they only tag the
function or class so that the runtime can find the steps. They import nothing heavy because
every flow imports them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class JSONType:
    """Parameter type for a JSON value given as a string on the command line."""

    @staticmethod
    def parse(value: str) -> Any:
        return json.loads(value)


# Metaflow's JSONType is an instance of JSONTypeClass; here JSONType is the class itself.
JSONTypeClass = JSONType


class Parameter:
    """A run-time parameter of the flow; reading it in a step gives its value."""

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,
        help: str | None = None,
        required: bool = False,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.default = default
        self.type = type
        self.help = help
        self.required = required

    def __set_name__(self, owner: type, attr: str) -> None:
        self._sfn_attr = attr

    def __get__(self, flow: Any, owner: type | None = None) -> Any:
        """On the class, the Parameter; on a flow, the run's value. An instance's loaded
        value (its __dict__) comes first; one not loaded yet (a join input's) loads here."""
        binding = None if flow is None else flow.__dict__.get("_sfn")
        attr = getattr(self, "_sfn_attr", None)
        if binding is None or attr is None or attr not in binding.shas:
            return self
        value = binding.fetch(attr)
        flow.__dict__[attr] = value
        return value


def step(func: F | None = None, *, start: bool = False, end: bool = False,
         node_info: dict[str, Any] | None = None) -> Any:
    """Mark a step: `@step`, or `@step(start=True)` / `@step(end=True)` for the entry and the
    last step when they are not named `start` and `end` (the parser reads the marks)."""

    def mark(f: F) -> F:
        f.is_step = True  # type: ignore[attr-defined]
        f.is_start_step = start  # type: ignore[attr-defined]
        f.is_end_step = end  # type: ignore[attr-defined]
        if node_info:  # shown in current.graph, as Metaflow shows it
            f.node_info = dict(node_info)  # type: ignore[attr-defined]
        return f

    return mark if func is None else mark(func)


def _marker(kind: str) -> Callable[..., Any]:
    """A step decorator usable as `@name` or `@name(...)`; it records its arguments."""

    def decorator(*args: Any, **kwargs: Any) -> Any:
        def tag(func: F) -> F:
            decos = dict(getattr(func, "sfn_decorators", {}))
            decos[kind] = kwargs
            func.sfn_decorators = decos  # type: ignore[attr-defined]
            return func

        if len(args) == 1 and callable(args[0]) and not kwargs:
            return tag(args[0])
        return tag

    decorator.__name__ = kind
    return decorator


batch = _marker("batch")
resources = _marker("resources")
retry = _marker("retry")
catch = _marker("catch")
timeout = _marker("timeout")
environment = _marker("environment")
foreach_options = _marker("foreach_options")
schedule = _marker("schedule")
card = _marker("card")
secrets = _marker("secrets")
# Accepted with a meaning per backend (see sfncompile/parser/support.py); nothing to do at
# task time, where they only tag the step or the flow.
pypi = _marker("pypi")
conda = _marker("conda")
pypi_base = _marker("pypi_base")
conda_base = _marker("conda_base")
kubernetes = _marker("kubernetes")
# A multi-node step (`self.next(self.x, num_parallel=N)`): the runtime sets current.parallel.
parallel = _marker("parallel")
exit_hook = _marker("exit_hook")
# Flow decorators about events and projects: deploy reads them from the IR, not from here.
trigger = _marker("trigger")
trigger_on_finish = _marker("trigger_on_finish")
project = _marker("project")
