"""The inputs of a run that are more than a typed value: IncludeFile contents, Config values
and Parameter defaults that are expressions.

- `read_include_files` runs where the run is started (`sfncompile run`, after the flow's
  module code ran, as in Metaflow; `sfncompile trigger`): an IncludeFile's value is a path
  there, and the run receives the file's contents (text, or base64 for binary files), so a
  run on AWS never needs the user's disk.
- `finish_values` runs in the `start` task after the typed values are resolved: it evaluates
  the defaults that are expressions (from the flow's class attributes, once per run: they
  become artifacts of `start`), decodes IncludeFile contents (reading the default file from
  the flow's directory, which the code package holds, when the run was not given one; an
  IncludeFile default that is an expression is evaluated and read only here), wraps
  Config values, and splits values that have a separator.
"""

from __future__ import annotations

import base64
import getpass
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from sfncompile.runtime.params import ParameterError, convert

# Step Functions' limit on an execution's input.
MAX_EXECUTION_INPUT = 262_144


def _kind(p: dict[str, Any]) -> str:
    return str(p.get("kind", "parameter"))


def _locate(path: str, flow_dir: Path | None) -> Path | None:
    """Where Metaflow looks (the working directory), then the flow's directory (if given)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for base in (Path.cwd(), flow_dir):
        if base is not None and (base / candidate).is_file():
            return base / candidate
    return None


def encode_contents(p: dict[str, Any], data: bytes, where: str) -> Any:
    if p.get("is_text", True):
        try:
            return data.decode(p.get("encoding") or "utf-8")
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParameterError(f"IncludeFile {p['name']!r}: cannot decode {where} as "
                                 f"{p.get('encoding') or 'utf-8'}: {exc}") from None
    return {"base64": base64.b64encode(data).decode("ascii")}


def include_paths(spec: list[dict[str, Any]], given: dict[str, Any]) -> list[str]:
    """The IncludeFiles that `read_include_files` reads for `given` (a path given or a
    literal default)."""
    return [p["name"] for p in spec if _kind(p) == "include_file"
            and given.get(p["name"], p.get("default")) is not None]


def read_include_files(spec: list[dict[str, Any]], given: dict[str, Any],
                       flow_dir: Path | None) -> dict[str, Any]:
    """`given` with each IncludeFile's path (given, or its default) replaced by the file's
    contents, relative paths looked up in the working directory (then in `flow_dir`, if
    given); raises ParameterError for a missing file or a Config given a value."""
    out = dict(given)
    problems: list[str] = []
    for p in spec:
        name = p["name"]
        if _kind(p) == "config" and name in given:
            problems.append(f"Config {name!r} is read when the flow is built; change its file "
                            "(or default_value) and build again")
        if _kind(p) != "include_file":
            continue
        path = given.get(name, p.get("default"))
        if path is None:
            continue
        found = _locate(str(path), flow_dir)
        if found is None:
            problems.append(f"IncludeFile {name!r}: no file {str(path)!r}"
                            + ("" if flow_dir else f" in the working directory {Path.cwd()}"))
            continue
        try:
            data = found.read_bytes()
        except OSError as exc:
            problems.append(f"IncludeFile {name!r}: cannot read {str(path)!r}: "
                            f"{exc.strerror or exc}")
            continue
        out[name] = encode_contents(p, data, repr(str(path)))
    if problems:
        raise ParameterError("; ".join(problems))
    return out


def check_execution_input(spec: list[dict[str, Any]], payload: dict[str, Any]) -> None:
    """Refuse an execution input over Step Functions' 256 KiB, naming the included files."""
    size = len(json.dumps(payload).encode("utf-8"))
    if size <= MAX_EXECUTION_INPUT:
        return
    files = [f"{p['name']!r} ({len(json.dumps(payload[p['name']]).encode('utf-8')):,} bytes)"
             for p in spec if _kind(p) == "include_file" and p["name"] in payload]
    which = f"; included files: {', '.join(files)}" if files else ""
    raise ParameterError(f"the run's input is {size:,} bytes, over the {MAX_EXECUTION_INPUT:,} "
                         f"bytes Step Functions accepts{which}. Keep large data in S3 and pass "
                         "its location as a Parameter")


def finish_values(cls: type, spec: list[dict[str, Any]], given: dict[str, Any],
                  values: dict[str, Any], flow_name: str, flow_dir: Path,
                  ds_type: str) -> dict[str, Any]:
    """The values of `start`, complete: see the module's docstring. Raises ParameterError."""
    from sfncompile.flow.inputs import ConfigValue, ParameterContext

    out = dict(values)
    configs = {p["name"]: p.get("default") for p in spec if _kind(p) == "config"}
    problems: list[str] = []
    for p in spec:
        attr, name = p["attr"], p["name"]
        declared = getattr(cls, attr, None)
        try:
            if _kind(p) == "config":
                value = p.get("default")
                out[attr] = value if value is None or p.get("plain") else ConfigValue(value)
                continue
            context = ParameterContext(
                flow_name=flow_name, user_name=_user(), parameter_name=name,
                logger=_log, ds_type=ds_type, configs=ConfigValue(configs))
            if _kind(p) == "include_file":
                out[attr] = _include_value(p, given, flow_dir, declared, context)
                continue
            if name not in given and p.get("default_expr") is not None:
                out[attr] = _evaluate_default(p, declared, context)
            sep = p.get("separator")
            if sep and isinstance(out.get(attr), str) and out[attr]:
                out[attr] = out[attr].split(sep)
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))
    return out


def _evaluate_default(p: dict[str, Any], declared: Any, context: Any) -> Any:
    name, expr = p["name"], p["default_expr"]
    default = _called_default(p, declared, context)
    if default is None or p.get("infer_type"):
        return default
    try:
        return convert(p["type"], default)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"parameter {name!r} ({p['type']}): its default `{expr}` gave "
                             f"{default!r:.60}: {exc}") from None


def _called_default(p: dict[str, Any], declared: Any, context: Any) -> Any:
    """The class attribute's default (evaluated when the flow's module was imported), or what
    it returns for the context when it is a function (as Metaflow calls it)."""
    name, expr = p["name"], p["default_expr"]
    default = getattr(declared, "default", None)
    if callable(default):
        try:
            try:
                default = default(context, False)  # Metaflow passes deploy_time when it can
            except TypeError:
                default = default(context)
        except Exception as exc:
            raise ParameterError(f"parameter {name!r}: its default `{expr}` failed: "
                                 f"{type(exc).__name__}: {exc}") from None
    return default


def _include_value(p: dict[str, Any], given: dict[str, Any], flow_dir: Path,
                   declared: Any, context: Any) -> Any:
    name = p["name"]
    raw = given.get(name)
    default = p.get("default")
    if name not in given and p.get("default_expr") is not None:
        # A path computed by the flow's module (`script_path("movies.csv")`): known only
        # here, where the module is imported (on AWS, from the code package).
        default = _called_default(p, declared, context)
        if default is not None and not isinstance(default, str | os.PathLike):
            raise ParameterError(f"IncludeFile {name!r}: its default `{p['default_expr']}` "
                                 f"gave {default!r:.60}, not a file path")
    if name not in given and default is not None:
        # Started without `run`/`trigger` (a schedule, the console), or a default that is an
        # expression: the default file, from the flow's directory in the code package.
        found = _locate(str(default), flow_dir)
        if found is None:
            raise ParameterError(f"IncludeFile {name!r}: no file {str(default)!r} beside the "
                                 "flow, and the run was not given its contents")
        raw = encode_contents(p, found.read_bytes(), repr(str(default)))
    if raw is None:
        return None
    if isinstance(raw, dict) and set(raw) == {"base64"}:
        content: Any = base64.b64decode(raw["base64"])
    elif isinstance(raw, str):
        content = raw if p.get("is_text", True) else raw.encode(p.get("encoding") or "utf-8")
    else:
        raise ParameterError(f"IncludeFile {name!r}: expected the file's contents, got "
                             f"{type(raw).__name__}")
    parser = getattr(declared, "parser", None)
    if parser is None:
        return content
    try:
        return _parser(parser)(content)
    except Exception as exc:
        raise ParameterError(f"IncludeFile {name!r}: its parser failed: "
                             f"{type(exc).__name__}: {exc}") from None


def _parser(parser: Any) -> Any:
    if callable(parser):
        return parser
    module, _, func = str(parser).rpartition(".")  # "package.module.function"
    return getattr(importlib.import_module(module), func)


def _user() -> str:
    for var in ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _log(*args: Any, **kwargs: Any) -> None:
    print(*args, file=sys.stderr)
