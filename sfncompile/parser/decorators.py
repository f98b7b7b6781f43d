"""The decorators a flow may use, their arguments and types, and how they become policies.

One table entry per decorator: the parser checks names and literal types against it, so an
unknown decorator, an unknown argument or a wrongly typed value is an error at its position.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sfncompile.conventions.secret_sources import SecretsError, normalise_sources
from sfncompile.flow.unsupported import UNSUPPORTED
from sfncompile.ir import (
    BatchSettings,
    CardPolicy,
    CatchPolicy,
    ForeachOptions,
    PackagesIR,
    Policies,
    Resources,
    RetryPolicy,
    SecretSource,
    SecretsPolicy,
    SourcePos,
)
from sfncompile.parser.schedule import (
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
    default: Any = None  # Metaflow's default; where it is None, None may be written too


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
_DICT = (dict,)
_LIST = (list, tuple)
_STRS = (str, list, tuple)  # one string, or a list of them (Metaflow takes both)
_ANY = (object,)  # any literal: the decorator is accepted, its value has no effect here
_FUNCTIONS = (list, tuple)  # functions of the module, or their names: read by name


def _count(v: Any) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _strings(v: Any) -> str | None:
    items = [v] if isinstance(v, str) else v
    return None if all(isinstance(i, str) and i for i in items) else "must be strings"


def _str_dict(v: Any) -> str | None:
    ok = all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
    return None if ok else "must map strings to strings"


def _packages(v: Any) -> str | None:
    ok = all(isinstance(k, str) and k and isinstance(x, str) for k, x in v.items())
    return None if ok else "must map package names to version strings ('' for any version)"


_SWAPPINESS = _between(0, 99, "Linux swappiness is below 100, as Metaflow checks")
_EPHEMERAL = _between(21, 200, "GiB: what Fargate's ephemeral storage allows")
_PACKAGE_ARGS = {
    "packages": Arg(_DICT, _packages, default={}),
    "python": Arg(_STR),
    "disabled": Arg(_BOOL),
}

# Every step decorator sfncompile runs or accepts, with every argument Metaflow 2.19 takes and
# its default there (`default`). What each means per backend is in SUPPORT below.
STEP_DECORATORS: dict[str, dict[str, Arg]] = {
    "batch": {
        "cpu": Arg(_NUMBER, _CPU),
        "memory": Arg(_INT, _MEMORY),
        "gpu": Arg(_INT, _GPU),
        "shared_memory": Arg(_INT, _MEMORY),
        "image": Arg(_STR),
        "queue": Arg(_STR),
        "iam_role": Arg(_STR),
        "execution_role": Arg(_STR),
        "max_swap": Arg(_INT, _count),
        "swappiness": Arg(_INT, _SWAPPINESS),
        "inferentia": Arg(_INT, _count),
        "trainium": Arg(_INT, _count),
        "efa": Arg(_INT, _count),
        "host_volumes": Arg(_STRS, _strings),
        "efs_volumes": Arg(_STRS, _strings),
        "use_tmpfs": Arg(_BOOL, default=False),
        "aws_batch_tags": Arg(_DICT, _str_dict),
        "tmpfs_tempdir": Arg(_BOOL, default=True),
        "tmpfs_size": Arg(_INT, _MEMORY),
        "tmpfs_path": Arg(_STR, default="/metaflow_temp"),
        "ephemeral_storage": Arg(_INT, _EPHEMERAL),
        "log_driver": Arg(_STR),
        "log_options": Arg(_STRS, _strings),
        "executable": Arg(_STR),
        "privileged": Arg(_BOOL, default=False),
    },
    "resources": {
        "cpu": Arg(_NUMBER, _CPU, default="1"),
        "memory": Arg(_INT, _MEMORY, default="4096"),
        "gpu": Arg(_INT, _GPU),
        "disk": Arg(_INT, _count),
        "shared_memory": Arg(_INT, _MEMORY),
    },
    "retry": {
        "times": Arg(_INT, _RETRIES, default="3"),
        "minutes_between_retries": Arg(_INT, _RETRY_MINUTES, default="2"),
    },
    "catch": {"var": Arg(_STR, _identifier), "print_exception": Arg(_BOOL, default=True)},
    "timeout": {
        "seconds": Arg(_INT, _TIMEOUT["seconds"], default=0),
        "minutes": Arg(_INT, _TIMEOUT["minutes"], default=0),
        "hours": Arg(_INT, _TIMEOUT["hours"], default=0),
    },
    "environment": {"vars": Arg((dict,), _env_vars, default={})},
    "foreach_options": {
        "mode": Arg(_STR, _map_mode, default="inline"),
        "max_concurrency": Arg(_INT, _CONCURRENCY),
    },
    # Metaflow's arguments and defaults; scope, rank and refresh_interval only matter to its UI.
    "card": {
        "type": Arg(_STR, _card_type, default="default"),
        "id": Arg(_STR, _identifier),
        "options": Arg(_DICT, default={}),
        "scope": Arg(_STR, default="task"),
        "rank": Arg(_STR),
        "timeout": Arg(_INT, _between(0, MAX_TIMEOUT_SECONDS, "seconds"), default=45),
        "save_errors": Arg(_BOOL, default=True),
        "customize": Arg(_BOOL, default=False),
        "refresh_interval": Arg(_INT, _between(0, 86_400, "seconds"), default=5),
    },
    "secrets": {
        "sources": Arg(_LIST, _secret_sources, default=[]),
        "role": Arg(_STR),
        "allow_override": Arg(_BOOL, default=False),
    },
    "pypi": _PACKAGE_ARGS,
    "conda": {**_PACKAGE_ARGS, "libraries": Arg(_DICT, _packages, default={})},
    # A multi-node step, reached by self.next(..., num_parallel=N); Metaflow's takes no argument.
    "parallel": {},
    "kubernetes": {
        name: Arg(_ANY, default=default) for name, default in (
            ("cpu", "1"), ("memory", "4096"), ("disk", "10240"), ("image", None),
            ("image_pull_policy", None), ("image_pull_secrets", None),
            ("service_account", None), ("secrets", None), ("node_selector", None),
            ("namespace", None), ("gpu", None), ("gpu_vendor", None), ("tolerations", None),
            ("labels", None), ("annotations", None), ("use_tmpfs", None),
            ("tmpfs_tempdir", True), ("tmpfs_size", None), ("tmpfs_path", "/metaflow_temp"),
            ("persistent_volume_claims", None), ("shared_memory", None), ("port", None),
            ("compute_pool", None), ("executable", None),
            ("hostname_resolution_timeout", 600), ("qos", "burstable"),
            ("extended_resources", {}), ("security_context", None))
    },
}
# A step may carry several of these (Metaflow's allow_multiple).
REPEATABLE = frozenset({"card"})

CLASS_DECORATORS: dict[str, dict[str, Arg]] = {
    "schedule": {
        "cron": Arg(_STR),
        "daily": Arg(_BOOL, default=True),
        "hourly": Arg(_BOOL, default=False),
        "weekly": Arg(_BOOL, default=False),
        "timezone": Arg(_STR, timezone_problem),
    },
    "pypi_base": _PACKAGE_ARGS,
    "conda_base": {**_PACKAGE_ARGS, "libraries": Arg(_DICT, _packages, default={})},
    "exit_hook": {
        "on_success": Arg(_FUNCTIONS, default=[]),
        "on_error": Arg(_FUNCTIONS, default=[]),
        "options": Arg(_DICT, default={}),
    },
    # Event triggers and projects (parser/triggers.py checks their structure).
    "trigger": {"event": Arg((str, dict)), "events": Arg((list,)), "options": Arg((dict,))},
    "trigger_on_finish": {"flow": Arg((str, dict)), "flows": Arg((list,)),
                          "options": Arg((dict,))},
    "project": {"name": Arg(_STR), "branch": Arg(_STR), "production": Arg(_BOOL)},
}
# Arguments that name functions of the flow's module (`on_success=[notify]`): read by name.
FUNCTION_ARGS = frozenset({("exit_hook", "on_success"), ("exit_hook", "on_error")})

# Decorators that Metaflow allows more than once on a step; their arguments are a list.
REPEATABLE = frozenset({"card"})

# Metaflow's decorators that no backend of sfncompile runs: why, and what to use instead.
REFUSED: dict[str, str] = {name: UNSUPPORTED[name] for name in (
    "pytorch_parallel", "airflow_s3_key_sensor", "airflow_external_task_sensor",
    "airflow_internal", "argo_workflows_internal", "step_functions_internal",
    "unbounded_test_foreach_internal")}


def allowed(spec: dict[str, Any]) -> str:
    """The arguments a decorator takes, for an error about one it does not."""
    return f"(allowed: {', '.join(spec)})" if spec else "(it takes none)"


def numeric_text(arg: Arg, value: Any) -> Any:
    """Metaflow also takes numbers as strings (`@resources(memory="8192")`): read them."""
    if isinstance(value, str) and str not in arg.types and _NUMBER[0] in arg.types:
        for kind in (int, float):
            try:
                number = kind(value)
            except ValueError:
                continue
            if kind in arg.types:
                return number
    return value


def type_problem(arg: Arg, value: Any) -> str | None:
    if value is None and arg.default is None:
        return None
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
                        "bool": "a bool", "dict": "a dict",
                        "list": "a list"}[t.__name__] for t in types)


_NO_POLICIES = Policies()


def build_policies(decorators: dict[str, Any],
                   positions: dict[str, SourcePos] | None = None) -> Policies:
    """Merge the checked decorator arguments of one step into its policies.

    `@batch` and `@resources` both size the job; like Metaflow, the larger value wins.
    `positions` says where each decorator was written.
    """
    if not decorators:
        return _NO_POLICIES  # frozen, so shared by every undecorated step
    positions = positions or {}
    sizing: dict[str, Any] = {}
    for name in ("resources", "batch"):
        for key in ("cpu", "memory", "gpu", "shared_memory", "disk"):
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
        batch=batch_settings(batch, requested="batch" in decorators),
        retry=RetryPolicy(**retry) if retry is not None else None,
        catch=CatchPolicy(**catch) if catch is not None else None,
        timeout_seconds=seconds,
        environment=tuple(sorted((k, str(v)) for k, v in env.items())),
        foreach=ForeachOptions(**decorators.get("foreach_options", {})),
        cards=tuple(_card(c) for c in decorators.get("card", ())),
        secrets=_secrets(decorators.get("secrets")),
        packages=next((packages_ir(name, decorators[name], positions[name])
                       for name in ("pypi", "conda") if name in decorators), None),
        kubernetes=positions.get("kubernetes") if "kubernetes" in decorators else None,
        parallel=positions.get("parallel") if "parallel" in decorators else None,
    )


def _card(args: dict[str, Any]) -> CardPolicy:
    given = _given(args)
    keep = {k: given[k] for k in ("type", "id", "timeout", "save_errors", "customize")
            if k in given}
    return CardPolicy(**keep, options=tuple(sorted((given.get("options") or {}).items())))


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


def batch_settings(args: dict[str, Any], requested: bool = False) -> BatchSettings:
    given = _given(args)
    lists: dict[str, Any] = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in given.items()
             if k in ("host_volumes", "efs_volumes", "log_options")}
    plain = {k: v for k, v in given.items() if k in BATCH_FIELDS and k not in lists}
    return BatchSettings(**plain, **lists,
                         inferentia=given.get("inferentia", 0) + given.get("trainium", 0),
                         tags=tuple(sorted(given.get("aws_batch_tags", {}).items())),
                         requested=requested)


BATCH_FIELDS = frozenset({"image", "queue", "iam_role", "execution_role", "max_swap",
                          "swappiness", "efa", "use_tmpfs", "tmpfs_tempdir", "tmpfs_size",
                          "tmpfs_path", "ephemeral_storage", "log_driver", "privileged"})


@dataclass(frozen=True)
class Unevaluated:
    """An argument written as an expression where sfncompile only records it (RECORDED_ARGS)."""

    text: str


# Arguments that are only recorded, never used to build anything: an expression is kept as
# its text (Metaflow's tutorials write `@conda_base(python=get_python_version())`).
RECORDED_ARGS = frozenset((deco, "python") for deco in ("pypi", "pypi_base", "conda",
                                                         "conda_base"))


def packages_ir(name: str, args: dict[str, Any], pos: SourcePos) -> PackagesIR:
    """`@pypi`/`@conda` or their `_base` forms; conda's `libraries` is its old `packages`."""
    packages = {**args.get("libraries", {}), **args.get("packages", {})}
    python = args.get("python")
    expr = python.text if isinstance(python, Unevaluated) else None
    return PackagesIR(manager="conda" if name.startswith("conda") else "pypi",
                      packages=tuple(sorted(packages.items())),
                      python=None if expr is not None else python, python_expr=expr,
                      disabled=bool(args.get("disabled")), pos=pos)


def _given(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments written with a value (None stands for Metaflow's default)."""
    return {k: v for k, v in args.items() if v is not None}


def schedule_expression(args: dict[str, Any]) -> str:
    """The expression that `@schedule(...)` asks for; raises ScheduleError."""
    chosen = [k for k in ("cron", "daily", "hourly", "weekly") if args.get(k)]
    if len(chosen) > 1:
        raise ScheduleError(f"@schedule takes one of cron, daily, hourly or weekly, got {chosen}")
    if args.get("cron") is not None:  # cron=None is Metaflow's default: no cron
        cron = args["cron"].strip()
        return validate_schedule(cron if cron.startswith(("cron(", "rate(")) else f"cron({cron})")
    if args.get("hourly"):
        return HOURLY
    if args.get("weekly"):
        return WEEKLY
    return DAILY
