"""The decorators a flow may use, their arguments and types, and how they become policies.

One table entry per decorator: the parser checks names and literal types against it, so an
unknown decorator, an unknown argument or a wrongly typed value is an error at its position.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sfncompile.ir import (
    BatchSettings,
    CatchPolicy,
    ForeachOptions,
    Policies,
    Resources,
    RetryPolicy,
)
from sfncompile.schedule import DAILY, HOURLY, WEEKLY, ScheduleError, validate_schedule

_NUMBER = (int, float)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Arg:
    types: tuple[type, ...]
    check: Callable[[Any], str | None] | None = None  # returns a problem, or None


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _identifier(v: Any) -> str | None:
    return None if _IDENT.fullmatch(v) else "must be a valid Python identifier"


def _env_vars(v: Any) -> str | None:
    for key, value in v.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            return f"has an invalid variable name {key!r}"
        if not isinstance(value, str | int | float | bool):
            return f"value of {key!r} must be a string or a number"
    return None


def _map_mode(v: Any) -> str | None:
    return None if v in ("inline", "distributed") else "must be 'inline' or 'distributed'"


_INT = (int,)
_STR = (str,)
_BOOL = (bool,)

STEP_DECORATORS: dict[str, dict[str, Arg]] = {
    "batch": {
        "cpu": Arg(_NUMBER, _positive),
        "memory": Arg(_INT, _positive),
        "gpu": Arg(_INT, _non_negative),
        "shared_memory": Arg(_INT, _positive),
        "image": Arg(_STR),
        "queue": Arg(_STR),
        "iam_role": Arg(_STR),
    },
    "resources": {
        "cpu": Arg(_NUMBER, _positive),
        "memory": Arg(_INT, _positive),
        "gpu": Arg(_INT, _non_negative),
        "shared_memory": Arg(_INT, _positive),
    },
    "retry": {
        "times": Arg(_INT, _non_negative),
        "minutes_between_retries": Arg(_INT, _non_negative),
    },
    "catch": {"var": Arg(_STR, _identifier), "print_exception": Arg(_BOOL)},
    "timeout": {
        "seconds": Arg(_INT, _non_negative),
        "minutes": Arg(_INT, _non_negative),
        "hours": Arg(_INT, _non_negative),
    },
    "environment": {"vars": Arg((dict,), _env_vars)},
    "foreach_options": {
        "mode": Arg(_STR, _map_mode),
        "max_concurrency": Arg(_INT, _non_negative),
    },
}

CLASS_DECORATORS: dict[str, dict[str, Arg]] = {
    "schedule": {
        "cron": Arg(_STR),
        "daily": Arg(_BOOL),
        "hourly": Arg(_BOOL),
        "weekly": Arg(_BOOL),
        "timezone": Arg(_STR),
    }
}


def type_problem(arg: Arg, value: Any) -> str | None:
    # bool is an int in Python; a flag where a number is wanted is a mistake.
    if isinstance(value, bool) and bool not in arg.types:
        return f"must be {_type_names(arg.types)}, got a bool"
    if not isinstance(value, arg.types):
        return f"must be {_type_names(arg.types)}, got {type(value).__name__}"
    return arg.check(value) if arg.check else None


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join({"int": "an int", "float": "a float", "str": "a string",
                        "bool": "a bool", "dict": "a dict"}[t.__name__] for t in types)


_NO_POLICIES = Policies()


def build_policies(decorators: dict[str, dict[str, Any]]) -> Policies:
    """Merge the checked decorator arguments of one step into its policies.

    `@batch` and `@resources` both size the job; like Metaflow, the larger value wins.
    """
    if not decorators:
        return _NO_POLICIES  # frozen, so shared by every undecorated step
    sizing: dict[str, Any] = {}
    for name in ("resources", "batch"):
        for key in ("cpu", "memory", "gpu", "shared_memory"):
            value = decorators.get(name, {}).get(key)
            if value is not None:
                sizing[key] = max(sizing.get(key, value), value)
    batch = decorators.get("batch", {})
    retry = decorators.get("retry")
    catch = decorators.get("catch")
    timeout = decorators.get("timeout")
    seconds = None
    if timeout is not None:
        seconds = (
            timeout.get("seconds", 0) + 60 * timeout.get("minutes", 0)
            + 3600 * timeout.get("hours", 0)
        )
    env = decorators.get("environment", {}).get("vars", {})
    return Policies(
        resources=Resources(**sizing),
        batch=BatchSettings(**{k: batch[k] for k in ("image", "queue", "iam_role") if k in batch}),
        retry=RetryPolicy(**retry) if retry is not None else None,
        catch=CatchPolicy(**catch) if catch is not None else None,
        timeout_seconds=seconds,
        environment=tuple(sorted((k, str(v)) for k, v in env.items())),
        foreach=ForeachOptions(**decorators.get("foreach_options", {})),
    )


def schedule_expression(args: dict[str, Any]) -> str:
    """The expression that `@schedule(...)` asks for; raises ScheduleError."""
    chosen = [k for k in ("cron", "daily", "hourly", "weekly") if args.get(k)]
    if len(chosen) > 1:
        raise ScheduleError(f"@schedule takes one of cron, daily, hourly or weekly, got {chosen}")
    if "cron" in args:
        cron = args["cron"].strip()
        return validate_schedule(cron if cron.startswith(("cron(", "rate(")) else f"cron({cron})")
    if args.get("hourly"):
        return HOURLY
    if args.get("weekly"):
        return WEEKLY
    return DAILY
