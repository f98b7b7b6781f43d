"""Deployment settings and where each came from.

Precedence, highest first: the command-line flag, the environment (`SFNCOMPILE_<NAME>`),
`[tool.sfncompile]` in the flow's `pyproject.toml`, then `sfncompile.toml`; the two files are
looked up from the flow's directory upwards. Missing required settings are reported together,
before any AWS call.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfncompile.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    required: bool = False


SETTINGS = (
    Setting("s3_root", "S3 root for code packages and artifacts, s3://bucket/prefix", True),
    Setting("job_queue", "AWS Batch job queue (name or ARN)", True),
    Setting("image", "container image with Python 3 and boto3", True),
    Setting("sfn_role", "IAM role ARN that the state machine assumes", True),
    Setting("job_role", "IAM role ARN for the Batch jobs (S3 access)"),
    Setting("platform", "Batch platform of the job definitions: EC2 (default) or FARGATE"),
    Setting("execution_role", "IAM role ARN that Fargate uses to pull the image and log "
            "(FARGATE only)"),
    Setting("events_role", "IAM role ARN that EventBridge uses to start executions"),
    Setting("event_bus", "EventBridge bus of the trigger rules and of the events runs publish "
            "(default: the account's default bus)"),
    Setting("log_group", "CloudWatch Logs log group ARN that --log-execution-history sends "
            "the execution history to (the state machine's logging configuration)"),
    Setting("region", "AWS region (default: the boto3 default)"),
    Setting("name_prefix", "prefix of every AWS resource name"),
    Setting("tags", "tags for every resource: KEY=VALUE,... (a table in TOML)"),
)
NAMES = tuple(s.name for s in SETTINGS)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


@dataclass
class Config:
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.values.get("tags") or {})

    @property
    def name_prefix(self) -> str:
        return str(self.values.get("name_prefix") or "")

    def require(self, *extra: str) -> None:
        names = [s.name for s in SETTINGS if s.required] + list(extra)
        missing = [n for n in names if not self.values.get(n)]
        if missing:
            lines = "\n".join(
                f"  {n}: {_help(n)} (flag --{n.replace('_', '-')}, env SFNCOMPILE_{n.upper()},"
                f" or `{n} = ...` in [tool.sfncompile] / sfncompile.toml)"
                for n in missing
            )
            raise UsageError(f"missing deployment settings:\n{lines}")


def _help(name: str) -> str:
    return next(s.help for s in SETTINGS if s.name == name)


# What AWS accepts in a tag (Step Functions, Batch, EventBridge and Scheduler agree): keys of
# 1-128 and values of 0-256 Unicode letters, digits, spaces and _ . : / = + - @; at most 50
# tags; `aws:` keys are AWS's own. `sfncompile:` keys are deploy's own (the owner tag).
MAX_TAGS = 49  # one is left for the owner tag on job definitions
_TAG_SYMBOLS = frozenset("_.:/=+-@ ")


def _tag_text_ok(text: str) -> bool:
    return all(c.isalnum() or c in _TAG_SYMBOLS or unicodedata.category(c) == "Zs"
               for c in text)


def check_tags(tags: dict[str, str], where: str) -> dict[str, str]:
    problems = []
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or not _tag_text_ok(key):
            problems.append(f"tag key {key[:140]!r} must be 1-128 letters, digits, spaces or "
                            "_ . : / = + - @")
        elif key.lower().startswith(("aws:", "sfncompile:")):
            problems.append(f"tag key {key!r}: the prefix {key.split(':')[0]}: is reserved")
        if len(value) > 256 or not _tag_text_ok(value):
            problems.append(f"tag {key[:140]!r}: value {value[:270]!r} must be at most 256 "
                            "letters, digits, spaces or _ . : / = + - @")
    if len(tags) > MAX_TAGS:
        problems.append(f"{len(tags)} tags: at most {MAX_TAGS}")
    if problems:
        raise UsageError(f"{where}: {'; '.join(problems)}")
    return tags


def parse_tags(text: Any, where: str) -> dict[str, str]:
    if isinstance(text, dict):
        bad = sorted(str(k) for k, v in text.items() if not isinstance(v, str))
        if bad:
            raise UsageError(f"{where}: tags: the value of {', '.join(bad)} must be a string")
        return check_tags(dict(text), where)
    if not isinstance(text, str):
        raise UsageError(f"{where}: tags must be a table (or KEY=VALUE,... text), not "
                         f"{_type_name(text)}")
    tags: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{where}: tag {pair!r} must be KEY=VALUE")
        tags[key] = value
    return check_tags(tags, where)


def _type_name(value: Any) -> str:
    names = {list: "an array", int: "a number", float: "a number", bool: "a boolean",
             dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KEY_PART = re.compile(r"[A-Za-z0-9_.-]+")


def split_s3_root(root: str, what: str = "s3_root") -> tuple[str, str]:
    """(bucket, "" or "prefix/") of s3://bucket[/prefix], or UsageError: S3 would refuse
    the bucket, and `.`/`..` or empty segments would be read differently by S3 and by a
    local path."""
    if not root.startswith("s3://"):
        raise UsageError(f"{what} {root!r} must be s3://bucket[/prefix]")
    bucket, _, prefix = root[len("s3://"):].partition("/")
    prefix = prefix.rstrip("/")
    parts = prefix.split("/") if prefix else []
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise UsageError(f"{what} {root!r}: {bucket!r} is not an S3 bucket name (3-63 "
                         "lowercase letters, digits, . and -)")
    if any(p in ("", ".", "..") or not _KEY_PART.fullmatch(p) for p in parts):
        raise UsageError(f"{what} {root!r}: the prefix must be /-separated names of letters, "
                         "digits and _ . - (no empty, . or .. parts)")
    return bucket, (prefix + "/" if prefix else "")


def _find_upwards(start: Path, name: str) -> Path | None:
    for directory in [start, *start.parents]:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 (byte {exc.start})") from None


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a table, not {_type_name(value)}")
    return value


def _file_layers(flow_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    layers = []
    pyproject = _find_upwards(flow_dir, "pyproject.toml")
    if pyproject is not None:
        tool = _table(_read_toml(pyproject).get("tool", {}), f"{pyproject}: [tool]")
        table = _table(tool.get("sfncompile", {}), f"{pyproject}: [tool.sfncompile]")
        layers.append((f"{pyproject} [tool.sfncompile]", table))
    own = _find_upwards(flow_dir, "sfncompile.toml")
    if own is not None:
        layers.append((str(own), _read_toml(own)))
    return layers


def load_config(flow_dir: Path, flags: dict[str, Any] | None = None,
                env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if env is None else env
    config = Config()
    layers: list[tuple[str, dict[str, Any]]] = [
        ("flag", {k: v for k, v in (flags or {}).items() if v not in (None, "", {}, ())}),
        ("env", {n: env[f"SFNCOMPILE_{n.upper()}"] for n in NAMES
                 if env.get(f"SFNCOMPILE_{n.upper()}")}),
        *_file_layers(flow_dir),
    ]
    for source, table in layers:
        unknown = sorted(set(table) - set(NAMES))
        if unknown and source not in ("flag", "env"):
            raise UsageError(f"{source}: unknown setting {', '.join(unknown)} "
                             f"(known: {', '.join(NAMES)})")
        for name in NAMES:
            if name in table and name not in config.values:
                value = table[name]
                if name != "tags" and not isinstance(value, str):
                    raise UsageError(f"{source}: {name} must be a string, not "
                                     f"{_type_name(value)}")
                config.values[name] = parse_tags(value, source) if name == "tags" else value
                config.sources[name] = source
    platform = str(config.values.get("platform") or "EC2").upper()
    if platform not in ("EC2", "FARGATE"):
        raise UsageError(f"platform {config.values['platform']!r} (from "
                         f"{config.sources['platform']}) must be EC2 or FARGATE")
    if "platform" in config.values:
        config.values["platform"] = platform
    root = config.values.get("s3_root")
    if root:
        split_s3_root(root, f"s3_root (from {config.sources['s3_root']})")
    region = config.values.get("region")
    if region and not _REGION.fullmatch(region):
        raise UsageError(f"region {region!r} (from {config.sources['region']}) is not an AWS "
                         "region name such as eu-west-1")
    return config
