"""The inputs of a run that are more than a typed value: IncludeFile contents, Config values
and Parameter defaults that are expressions.

- `store_include_files` runs where the run is started (`sfncompile run`, after the flow's
  module code ran, as in Metaflow; `sfncompile trigger`): an IncludeFile's value is a path
  there; the file is stored once in the run's datastore (a blob named by its sha256) and the
  run receives a small reference (conventions.input_keys), so a run on AWS never needs the
  user's disk and its input stays small whatever the file's size.
- `finish_values` runs in the `start` task after the typed values are resolved: it evaluates
  the defaults that are expressions (from the flow's class attributes, once per run: they
  become artifacts of `start`), reads IncludeFile contents (the stored file of a reference;
  the default file from the flow's directory, which the code package holds, when the run was
  not given one; an IncludeFile default that is an expression is evaluated and read only
  here), wraps Config values, and splits values that have a separator.
"""

from __future__ import annotations

import base64
import codecs
import getpass
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfncompile.conventions.input_keys import include_reference, is_include_reference
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import LocalStorage, Storage
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


def _contents(p: dict[str, Any], data: bytes, where: str) -> Any:
    """A file's bytes as the flow reads them: text in the IncludeFile's encoding, or bytes."""
    if not p.get("is_text", True):
        return data
    try:
        return data.decode(p.get("encoding") or "utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise ParameterError(f"IncludeFile {p['name']!r}: cannot decode {where} as "
                             f"{p.get('encoding') or 'utf-8'}: {exc}") from None


def _check_decodes(p: dict[str, Any], path: Path, where: str) -> None:
    """Refuse a text file its encoding cannot decode before the run starts, as Metaflow does,
    decoding it a chunk at a time (the file may be large)."""
    if not p.get("is_text", True):
        return
    encoding = p.get("encoding") or "utf-8"
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        with path.open("rb") as f:
            while chunk := f.read(4 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ParameterError(f"IncludeFile {p['name']!r}: cannot decode {where} as "
                             f"{encoding}: {exc}") from None


def include_paths(spec: list[dict[str, Any]], given: dict[str, Any]) -> list[str]:
    """The IncludeFiles that `read_include_files` reads for `given` (a path given or a
    literal default)."""
    return [p["name"] for p in spec if _kind(p) == "include_file"
            and given.get(p["name"], p.get("default")) is not None]


def store_include_files(spec: list[dict[str, Any]], given: dict[str, Any],
                        flow_dir: Path | None, open_store: Callable[[], Storage | None],
                        flow: str, defaults: bool = True) -> dict[str, Any]:
    """`given` with each IncludeFile's path (given, or with `defaults` its default) replaced
    by a reference to the file, stored in the flow's blob store of the storage `open_store`
    gives (called once, when a file is found: it may ask AWS); relative paths looked up in
    the working directory (then in `flow_dir`, if given). Raises ParameterError for a
    missing or unreadable file, no storage to put it in, or a Config given a value."""
    out = dict(given)
    problems: list[str] = []
    stores: list[Storage | None] = []
    for p in spec:
        name = p["name"]
        if _kind(p) == "config" and name in given:
            problems.append(f"Config {name!r} is read when the flow is built; change its file "
                            "(or default_value) and build again")
        if _kind(p) != "include_file":
            continue
        path = given.get(name, p.get("default") if defaults else None)
        if path is None or is_include_reference(path):
            continue
        found = _locate(str(path), flow_dir)
        if found is None:
            problems.append(f"IncludeFile {name!r}: no file {str(path)!r}"
                            + ("" if flow_dir else f" in the working directory {Path.cwd()}"))
            continue
        if not stores:
            stores.append(open_store())
        storage = stores[0]
        if storage is None:
            problems.append(f"IncludeFile {name!r}: its file is stored in the runs' datastore, "
                            "and no s3_root is configured")
            continue
        try:
            _check_decodes(p, found, repr(str(path)))
            sha, size = ds.save_file(storage, flow, found)
        except OSError as exc:
            problems.append(f"IncludeFile {name!r}: cannot read {str(path)!r}: "
                            f"{exc.strerror or exc}")
            continue
        except ParameterError as exc:
            problems.append(str(exc))
            continue
        out[name] = include_reference(sha, size, found.name)
    if problems:
        raise ParameterError("; ".join(problems))
    return out


def default_files(spec: list[dict[str, Any]],
                  flow_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """For a deployment: each IncludeFile's literal default that exists, by parameter name,
    with its reference (the file is hashed, not stored: deploy stores it). A run on AWS not
    given the parameter then reads the file as it was deployed, from the runs' datastore,
    whether or not the code package holds it. Raises OSError."""
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for p in spec:
        if _kind(p) != "include_file" or p.get("default") is None or p.get("default_expr"):
            continue
        found = _locate(str(p["default"]), flow_dir)
        if found is not None:
            sha, size = ds.hash_file(found)
            out[p["name"]] = (found, include_reference(sha, size, found.name))
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
                  storage: Storage) -> dict[str, Any]:
    """The values of `start`, complete: see the module's docstring. Raises ParameterError."""
    from sfncompile.flow.inputs import ConfigValue, ParameterContext

    ds_type = "local" if isinstance(storage, LocalStorage) else "s3"
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
                out[attr] = _include_value(p, given, flow_dir, declared, context,
                                           (storage, flow_name))
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
                   declared: Any, context: Any, store: tuple[Storage, str]) -> Any:
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
    if name not in given and p.get("default_expr") is None and p.get("default_ref"):
        # Deployed: the default file as deploy stored it (schedules, the console, triggers).
        content = _given_contents(p, p["default_ref"], store)
    elif name not in given and default is not None:
        # A local run not given it, or a default that is an expression: the default file,
        # from the flow's directory (on AWS, in the code package).
        found = _locate(str(default), flow_dir)
        if found is None:
            raise ParameterError(f"IncludeFile {name!r}: no file {str(default)!r} beside the "
                                 "flow, and the run was not given its contents")
        content = _contents(p, found.read_bytes(), repr(str(default)))
    elif raw is None:
        return None
    else:
        content = _given_contents(p, raw, store)
    parser = getattr(declared, "parser", None)
    if parser is None:
        return content
    try:
        return _parser(parser)(content)
    except Exception as exc:
        raise ParameterError(f"IncludeFile {name!r}: its parser failed: "
                             f"{type(exc).__name__}: {exc}") from None


def _given_contents(p: dict[str, Any], raw: Any, store: tuple[Storage, str]) -> Any:
    """The content of a value the run was given: a reference to the stored file; or, from
    a run started by hand (the console, an older sfncompile), the content itself."""
    name = p["name"]
    if is_include_reference(raw):
        try:
            data = ds.load_file(*store, raw["sha256"], f"IncludeFile {name!r}")
        except ds.ArtifactError as exc:
            raise ParameterError(str(exc)) from None
        return _contents(p, data, f"its file {raw.get('name')!r}")
    if isinstance(raw, dict) and set(raw) == {"base64"}:
        return base64.b64decode(raw["base64"])
    if isinstance(raw, str):
        return raw if p.get("is_text", True) else raw.encode(p.get("encoding") or "utf-8")
    raise ParameterError(f"IncludeFile {name!r}: expected a reference to its stored file, "
                         f"got {type(raw).__name__}")


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
