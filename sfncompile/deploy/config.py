"""Deployment settings and where each came from.

Precedence, highest first: the command-line flag, the environment (`SFNCOMPILE_<NAME>`),
`[tool.sfncompile]` in the flow's `pyproject.toml`, then `sfncompile.toml`; the two files are
looked up from the flow's directory upwards. Missing required settings are reported together,
before any AWS call.
"""

from __future__ import annotations

import os
import sys
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
    Setting("region", "AWS region (default: the boto3 default)"),
    Setting("name_prefix", "prefix of every AWS resource name"),
    Setting("tags", "tags for every resource: KEY=VALUE,... (a table in TOML)"),
)
NAMES = tuple(s.name for s in SETTINGS)


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


def parse_tags(text: str | dict[str, Any], where: str) -> dict[str, str]:
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    tags: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{where}: tag {pair!r} must be KEY=VALUE")
        tags[key] = value
    return tags


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


def _file_layers(flow_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    layers = []
    pyproject = _find_upwards(flow_dir, "pyproject.toml")
    if pyproject is not None:
        table = _read_toml(pyproject).get("tool", {}).get("sfncompile", {})
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
                config.values[name] = parse_tags(value, source) if name == "tags" else value
                config.sources[name] = source
    platform = str(config.values.get("platform") or "EC2").upper()
    if platform not in ("EC2", "FARGATE"):
        raise UsageError(f"platform {config.values['platform']!r} (from "
                         f"{config.sources['platform']}) must be EC2 or FARGATE")
    if "platform" in config.values:
        config.values["platform"] = platform
    root = config.values.get("s3_root")
    if root and not str(root).startswith("s3://"):
        raise UsageError(f"s3_root {root!r} (from {config.sources['s3_root']}) must be "
                         "s3://bucket[/prefix]")
    return config
