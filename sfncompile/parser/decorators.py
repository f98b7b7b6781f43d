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
    CardPolicy,
    CatchPolicy,
    ForeachOptions,
    Policies,
    Resources,
    RetryPolicy,
    SecretSource,
    SecretsPolicy,
)
from sfncompile.runtime.secrets import SecretsError, normalise_sources
from sfncompile.schedule import (
    DAILY,
    HOURLY,
    WEEKLY,
    ScheduleError,
    timezone_problem,
    validate_schedule,
)

_NUMBER = (int, float)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Arg:
    types: tuple[type, ...]
    check: Callable[[Any], str | None] | None = None  # returns a problem, or None


# What AWS accepts, so a flow that builds also deploys and runs (the bound is in the message).
MAX_VCPUS = 192  # the most vCPUs one ECS/Batch container on EC2 can reserve
MIN_MEMORY_MIB = 4  # AWS Batch refuses less
MAX_MEMORY_MIB = 24 * 1024 * 1024  # 24 TiB: the largest EC2 instance Batch can use
MAX_GPUS = 16  # the most GPUs of any EC2 instance type
MAX_RETRIES = 99_999_999  # ASL Retry MaxAttempts
MAX_RETRY_MINUTES = 99_999_999 // 60  # ASL Retry IntervalSeconds, in minutes
MAX_TIMEOUT_SECONDS = 99_999_999  # ASL TimeoutSeconds
MAX_MAP_CONCURRENCY = 10_000  # Distributed Map child executions at once


def _between(low: float, high: float, why: str, low_inclusive: bool = True) -> Callable[
        [Any], str | None]:
    def check(v: Any) -> str | None:
        if v != v or not (v >= low if low_inclusive else v > low):
            return f"must be {'at least' if low_inclusive else 'greater than'} {low:,}"
        if v > high:
            return f"must be at most {high:,} ({why})"
        return None

    return check


_CPU = _between(0, MAX_VCPUS, "the most vCPUs an AWS Batch job on EC2 can reserve",
                low_inclusive=False)
_MEMORY = _between(MIN_MEMORY_MIB, MAX_MEMORY_MIB,
                   "MiB: the memory of the largest EC2 instance AWS Batch can use")
_GPU = _between(0, MAX_GPUS, "the most GPUs of any EC2 instance type")
_RETRIES = _between(0, MAX_RETRIES, "Step Functions' largest Retry MaxAttempts")
_RETRY_MINUTES = _between(0, MAX_RETRY_MINUTES,
                          "Step Functions' largest Retry IntervalSeconds is 99,999,999")
_TIMEOUT = {
    unit: _between(0, MAX_TIMEOUT_SECONDS // factor,
                   "Step Functions' largest TimeoutSeconds is 99,999,999")
    for unit, factor in (("seconds", 1), ("minutes", 60), ("hours", 3600))
}
_CONCURRENCY = _between(0, MAX_MAP_CONCURRENCY,
                        "the most child executions a Distributed Map runs at once")


def _identifier(v: Any) -> str | None:
    return None if _IDENT.fullmatch(v) else "must be a valid Python identifier"


def _env_vars(v: Any) -> str | None:
    for key, value in v.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            return f"has an invalid variable name {key!r}"
        if not isinstance(value, str | int | float | bool):
            return f"value of {key!r} must be a string or a number"
        if "\0" in str(value):
            return f"value of {key!r} must not contain a NUL character"
    return None


def _secret_sources(v: Any) -> str | None:
    try:
        normalise_sources(v, None)
    except SecretsError as exc:
        return f"is not a list of secret sources: {exc}"
    return None


def _card_type(v: Any) -> str | None:
    return None if v in CARD_TYPES else f"must be one of {', '.join(map(repr, CARD_TYPES))}"


CARD_TYPES = ("default", "blank")


def _map_mode(v: Any) -> str | None:
    return None if v in ("inline", "distributed") else "must be 'inline' or 'distributed'"


_INT = (int,)
_STR = (str,)
_BOOL = (bool,)

STEP_DECORATORS: dict[str, dict[str, Arg]] = {
    "batch": {
        "cpu": Arg(_NUMBER, _CPU),
        "memory": Arg(_INT, _MEMORY),
        "gpu": Arg(_INT, _GPU),
        "shared_memory": Arg(_INT, _MEMORY),
        "image": Arg(_STR),
        "queue": Arg(_STR),
        "iam_role": Arg(_STR),
    },
    "resources": {
        "cpu": Arg(_NUMBER, _CPU),
        "memory": Arg(_INT, _MEMORY),
        "gpu": Arg(_INT, _GPU),
        "shared_memory": Arg(_INT, _MEMORY),
    },
    "retry": {
        "times": Arg(_INT, _RETRIES),
        "minutes_between_retries": Arg(_INT, _RETRY_MINUTES),
    },
    "catch": {"var": Arg(_STR, _identifier), "print_exception": Arg(_BOOL)},
    "timeout": {
        "seconds": Arg(_INT, _TIMEOUT["seconds"]),
        "minutes": Arg(_INT, _TIMEOUT["minutes"]),
        "hours": Arg(_INT, _TIMEOUT["hours"]),
    },
    "environment": {"vars": Arg((dict,), _env_vars)},
    "foreach_options": {
        "mode": Arg(_STR, _map_mode),
        "max_concurrency": Arg(_INT, _CONCURRENCY),
    },
    # Metaflow's arguments; scope, rank and refresh_interval only matter to its UI.
    "card": {
        "type": Arg(_STR, _card_type),
        "id": Arg(_STR, _identifier),
        "options": Arg((dict,)),
        "scope": Arg(_STR),
        "rank": Arg(_STR),
        "timeout": Arg(_INT),
        "save_errors": Arg(_BOOL),
        "customize": Arg(_BOOL),
        "refresh_interval": Arg(_INT),
    },
    "secrets": {
        "sources": Arg((list,), _secret_sources),
        "role": Arg(_STR),
        "allow_override": Arg(_BOOL),
    },
}
# A step may carry several of these (Metaflow's allow_multiple).
REPEATABLE = frozenset({"card"})

CLASS_DECORATORS: dict[str, dict[str, Arg]] = {
    "schedule": {
        "cron": Arg(_STR),
        "daily": Arg(_BOOL),
        "hourly": Arg(_BOOL),
        "weekly": Arg(_BOOL),
        "timezone": Arg(_STR, timezone_problem),
    }
}


def type_problem(arg: Arg, value: Any) -> str | None:
    # bool is an int in Python; a flag where a number is wanted is a mistake.
    if isinstance(value, bool) and bool not in arg.types:
        return f"must be {_type_names(arg.types)}, got a bool"
    if not isinstance(value, arg.types):
        return f"must be {_type_names(arg.types)}, got {type(value).__name__}"
    return arg.check(value) if arg.check else None


def combined_problem(name: str, args: dict[str, Any]) -> str | None:
    """A problem with the arguments of one decorator taken together, or None."""
    if name == "timeout" and timeout_seconds(args) > MAX_TIMEOUT_SECONDS:
        return (f"adds up to {timeout_seconds(args):,} seconds; Step Functions' largest "
                f"TimeoutSeconds is {MAX_TIMEOUT_SECONDS:,}")
    return None


def timeout_seconds(args: dict[str, Any]) -> int:
    return int(args.get("seconds", 0) + 60 * args.get("minutes", 0)
               + 3600 * args.get("hours", 0))


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join({"int": "an int", "float": "a float", "str": "a string",
                        "bool": "a bool", "dict": "a dict"}[t.__name__] for t in types)


_NO_POLICIES = Policies()


def build_policies(decorators: dict[str, dict[str, Any]],
                   cards: tuple[dict[str, Any], ...] = ()) -> Policies:
    """Merge the checked decorator arguments of one step into its policies.

    `@batch` and `@resources` both size the job; like Metaflow, the larger value wins.
    """
    if not decorators and not cards:
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
    seconds = timeout_seconds(timeout) if timeout is not None else None
    env = decorators.get("environment", {}).get("vars", {})
    return Policies(
        resources=Resources(**sizing),
        batch=BatchSettings(**{k: batch[k] for k in ("image", "queue", "iam_role") if k in batch}),
        retry=RetryPolicy(**retry) if retry is not None else None,
        catch=CatchPolicy(**catch) if catch is not None else None,
        timeout_seconds=seconds,
        environment=tuple(sorted((k, str(v)) for k, v in env.items())),
        foreach=ForeachOptions(**decorators.get("foreach_options", {})),
        cards=tuple(_card(c) for c in cards),
        secrets=_secrets(decorators.get("secrets")),
    )


def _card(args: dict[str, Any]) -> CardPolicy:
    keep = {k: args[k] for k in ("type", "id", "timeout", "save_errors", "customize") if k in args}
    return CardPolicy(**keep, options=tuple(sorted(args.get("options", {}).items())))


def _secrets(args: dict[str, Any] | None) -> SecretsPolicy | None:
    if args is None:
        return None
    sources = normalise_sources(args.get("sources", []), args.get("role"))
    return SecretsPolicy(
        sources=tuple(SecretSource(type=s["type"], id=s["id"], role=s["role"],
                                   options=tuple(sorted(s["options"].items())))
                      for s in sources),
        allow_override=bool(args.get("allow_override", False)),
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
