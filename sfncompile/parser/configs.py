"""Configs: a Config's value, read when the flow is built, and the references to it in
decorator arguments and Parameter defaults (`cfg.key`, `cfg["key"]`, `config_expr(...)`,
`**cfg`).

A Config's value is fixed in the compiled flow. Most are JSON: a file (`default=`) or a value
(`default_value=`); Metaflow's `--config NAME PATH` and `--config-value NAME VALUE` replace
them when the flow is built for a run (`given_configs`). As in Metaflow, `parser=` (a
function, or its dotted name) turns the file's text (or the `default_value`) into the value,
and `default=`/`default_value=` may be functions of the ParameterContext; those need code,
which `config_code` runs at build time.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple, cast

from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR, ParameterIR
from sfncompile.parser.config_code import (
    CodeRef,
    ConfigCodeError,
    as_json,
    code_ref,
    evaluate,
)
from sfncompile.parser.reading import Reading

# A Config file read at build time is part of the compiled flow: keep it small.
MAX_CONFIG_BYTES = 1 << 20


class _Missing:
    pass


MISSING: Any = _Missing()
_FAILED: Any = _Missing()
FAILED = _FAILED  # the value of a Config whose error was reported (see is_failure)



class GivenValue(NamedTuple):
    """A Config's value itself (a resumed run's), not text to parse."""

    value: Any


# Config name -> (what gave it, its text or GivenValue): the command line's --config and
# --config-value, or a resumed run's values, read by read_config while parse_flow parses.
_GIVEN: ContextVar[Mapping[str, tuple[str, Any]] | None] = ContextVar("given_configs",
                                                                      default=None)


@contextmanager
def given_configs(given: Mapping[str, tuple[str, Any]] | None) -> Iterator[None]:
    """While parsing: the Configs given, in place of their defaults."""
    token = _GIVEN.set(given)
    try:
        yield
    finally:
        _GIVEN.reset(token)


# Metaflow's environment variables for --config and --config-value, read when the option is
# not given: a JSON object of Config name -> path, and of name -> value (text, or JSON).
CONFIG_FILES_ENV = "METAFLOW_FLOW_CONFIG"
CONFIG_VALUES_ENV = "METAFLOW_FLOW_CONFIG_VALUE"

Pairs = tuple[tuple[str, str], ...]


def config_sources(files: Pairs, values: Pairs,
                   environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """--config and --config-value (or, where one is not given, its environment variable) as
    the parser takes them: name -> (what gave it, text). A file that cannot be read, a
    variable that is not a JSON object, or a name given both ways is a UsageError
    (Metaflow's rules)."""
    named_files = [(f"--config {n} {p}", n, p) for n, p in files] or \
        [(f"{CONFIG_FILES_ENV} {n} {p}", n, p) for n, p in _env_pairs(environ, CONFIG_FILES_ENV)]
    named_values = [(f"--config-value {n}", n, v) for n, v in values] or \
        [(f"{CONFIG_VALUES_ENV} {n}", n, v) for n, v in _env_pairs(environ, CONFIG_VALUES_ENV)]
    both = sorted({n for _, n, _ in named_files} & {n for _, n, _ in named_values})
    if both:
        raise UsageError(f"--config and --config-value {both[0]}: give a file or a value for a "
                         "Config, not both")
    out = {name: (label, text) for label, name, text in named_values}
    for label, name, path in named_files:
        out[name] = (label, _config_file(label, path))
    return out


def _env_pairs(environ: Mapping[str, str], var: str) -> list[tuple[str, str]]:
    """The (name, text) pairs of METAFLOW_FLOW_CONFIG[_VALUE]; a value that is not text is
    JSON (Metaflow dumps it); a path must be text."""
    text = environ.get(var)
    if not text:
        return []
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{var}: not JSON ({exc}); give a JSON object of Config name -> "
                         f"{'path' if var == CONFIG_FILES_ENV else 'value'}") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"{var}: a JSON object of Config name -> "
                         f"{'path' if var == CONFIG_FILES_ENV else 'value'}, not {text:.60}")
    pairs = []
    for name, value in loaded.items():
        if var == CONFIG_FILES_ENV and not isinstance(value, str):
            raise UsageError(f"{var} {name}: the path of a file, not {json.dumps(value):.60}")
        pairs.append((name, value if isinstance(value, str) else json.dumps(value)))
    return pairs


def _config_file(label: str, path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{label}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"{label}: larger than {MAX_CONFIG_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{label}: cannot read it: {exc}") from None


def api_config_pairs(config: Any, config_value: Any) -> tuple[Pairs, Pairs]:
    """Metaflow's Runner/Deployer `config=[(name, path), ...]` and
    `config_value=[(name, value), ...]` (a dict or ConfigValue, or text for a parser=) as the
    command line's pairs. TypeError for anything else, as Metaflow's."""
    def pairs(given: Any, what: str) -> list[tuple[Any, Any]]:
        items = list(given.items()) if isinstance(given, Mapping) else list(given or ())
        if not all(isinstance(p, tuple | list) and len(p) == 2 and isinstance(p[0], str)
                   for p in items):
            raise TypeError(f"{what}: a list of (name, value) pairs, not {given!r:.60}")
        return items

    files = []
    for name, path in pairs(config, "config"):
        if not isinstance(path, str | Path):
            raise TypeError(f"config {name!r}: the path of a file, not {type(path).__name__}")
        files.append((name, str(path)))
    values = []
    for name, value in pairs(config_value, "config_value"):
        if isinstance(value, Mapping):
            value = json.dumps(dict(value))
        if not isinstance(value, str):
            raise TypeError(f"config_value {name!r}: a dict, a ConfigValue or text, not "
                            f"{type(value).__name__}")
        values.append((name, value))
    return tuple(files), tuple(values)


def unknown_configs(flow: FlowIR, given: Mapping[str, tuple[str, Any]]) -> str | None:
    """What is wrong with the names given to --config/--config-value: one that is no Config
    of the flow (None: every one is). A resumed run's value (GivenValue) for a Config the
    flow no longer has is left out, as the parser does."""
    known = [p.name for p in flow.parameters if p.kind == "config"]
    for name, (label, text) in given.items():
        if name not in known and not isinstance(text, GivenValue):
            return (f"{label}: flow {flow.name} has no Config named {name!r} (its Configs: "
                    f"{', '.join(known) or 'none'})")
    return None


def read_config(reader: Reading, where: str, args: dict[str, ast.expr], values: dict[str, Any],
                common: dict[str, Any]) -> ParameterIR | None:
    """The Config's IR, its value computed; None after an error. `values` holds the literal
    arguments; a `default`/`default_value` in `args` but not in `values` is a function."""
    plain = bool(values.get("plain"))
    parser = args.get("parser")
    if isinstance(parser, ast.Constant) and parser.value is None:
        parser = None
    given: list[str] = [k for k in ("default", "default_value")
                        if k in args and (k not in values or values[k] is not None)]
    if len(given) == 2:
        reader.error(args["default"], f"{where}: give default (a file) or default_value, "
                     "not both")
        return None
    at = args[given[0]] if given else args["name"]
    override = (_GIVEN.get() or {}).get(common["name"])
    try:
        if override is not None:
            label, raw = override
        else:
            raw, label = _source(reader, where, args, values, common, given)
    except ConfigCodeError as exc:
        reader.error(at, f"{where}: {given[0]}= {exc}")
        return None
    if raw is _FAILED:
        return None
    if isinstance(raw, GivenValue):
        value = raw.value
    elif raw is None:
        value = None
    elif parser is not None:
        value = _parsed(reader, where, parser, raw, plain)
        if value is _FAILED:
            return None
    else:
        try:
            value = _json_value(raw, label)
        except (ValueError, ConfigCodeError) as exc:
            reader.error(at, f"{where}: {exc}")
            return None
    if value is None and common["required"]:
        reader.error(args["name"], f"{where}: the Config is required and has no value")
        return None
    if not plain and value is not None and not isinstance(value, dict):
        reader.error(at, f"{where}: a Config's value must be a JSON object (or give "
                     "plain=True)")
        return None
    # The value is part of the built flow (a required one has it, or the build failed above):
    # a run has nothing more to give.
    return ParameterIR(type="json", default=value, plain=plain, **{**common, "required": False})


def _source(reader: Reading, where: str, args: dict[str, ast.expr], values: dict[str, Any],
            common: dict[str, Any], given: list[str]) -> tuple[Any, str]:
    """The Config's source and what it is: a file's text, the default_value, None when it has
    none, or _FAILED after an error. A function given as the default is
    called with Metaflow's ParameterContext (ConfigCodeError when it fails)."""
    if not given:
        return None, ""
    key = given[0]
    value = values[key] if key in values else \
        _code(reader, args[key]).call(_context(reader, common["name"]), value_ok=True)
    if key == "default_value":
        return value, "default_value"
    if not isinstance(value, str):
        reader.error(args[key], f"{where}: default must be the path of a file, not "
                     f"{value!r:.60}")
        return _FAILED, ""
    found = locate(value, Path(reader.path).parent)
    if found is None:
        if common["required"]:
            reader.error(args[key], f"{where}: the file {value!r} does not exist")
            return _FAILED, ""
        return None, ""
    try:
        data = found.read_bytes()
        if len(data) > MAX_CONFIG_BYTES:
            raise ValueError(f"it is larger than {MAX_CONFIG_BYTES:,} bytes")
        return data.decode("utf-8"), f"the file {value!r}"
    except (OSError, ValueError) as exc:
        reader.error(args[key], f"{where}: cannot read {value!r}: {exc}")
        return _FAILED, ""


def _parsed(reader: Reading, where: str, parser: ast.expr, raw: Any, plain: bool) -> Any:
    """What the parser makes of the source's text (a value that is not text reaches it as
    JSON, as in Metaflow); _FAILED after an error, reported at the parser."""
    code = _code(reader, parser)
    try:
        value = code.call(raw if isinstance(raw, str) else json.dumps(raw))
    except ConfigCodeError as exc:
        reader.error(parser, f"{where}: parser= {exc}")
        return _FAILED
    try:
        if not plain and not isinstance(value, Mapping):
            raise ConfigCodeError(f"{type(value).__name__} {value!r:.60}, not a mapping (or "
                                  "give plain=True)")
        return as_json(value)
    except ConfigCodeError as exc:
        reader.error(parser, f"{where}: parser= {code.shown()} returned {exc}")
        return _FAILED


def _json_value(raw: Any, label: str) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{label} is not JSON: {exc}") from None
    try:
        return as_json(raw)
    except ConfigCodeError as exc:
        raise ValueError(f"the value is {exc}") from None


def _code(reader: Reading, node: ast.expr) -> CodeRef:
    return code_ref(node, reader.tree, Path(reader.path))


def _context(reader: Reading, name: str) -> Any:
    """Metaflow's ParameterContext for a Config's default function (`configs` is None: a
    Config's default cannot read Configs)."""
    from sfncompile.flow.current import get_username
    from sfncompile.flow.inputs import ParameterContext

    def log(*args: Any, **kwargs: Any) -> None:
        pass

    return ParameterContext(flow_name=reader.flow_name, user_name=get_username() or "unknown",
                            parameter_name=name, logger=log, ds_type="local", configs=None)


def locate(path: str, flow_dir: Path) -> Path | None:
    """A file named by a flow: an absolute path, or relative to the flow's directory, or else
    to the working directory (where Metaflow looks)."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for base in (flow_dir, Path.cwd()):
        if (base / candidate).is_file():
            return base / candidate
    return None


# -- reading a Config's values in decorator arguments and defaults -------------------------------


def config_reference(reader: Reading, node: ast.expr, what: str) -> Any:
    """The value a Config reference names (`cfg.a.b`, `cfg["a"]`, `config_expr("...")`,
    `config_expr("cfg").a`), MISSING when the node is no Config reference; reports an error
    and returns a failure (see is_failure) when it cannot be evaluated."""
    if not reader.configs:
        return MISSING
    if _is_config_expr(reader, node):
        assert isinstance(node, ast.Call)
        if (len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Constant)
                or not isinstance(node.args[0].value, str)):
            reader.error(node, f"{what}: config_expr takes one string, e.g. "
                         "config_expr('cfg.key')")
            return _FAILED
        source = node.args[0].value.strip()
        try:
            inner = ast.parse(source, mode="eval").body
        except SyntaxError as exc:
            reader.error(node, f"{what}: config_expr: not an expression: {exc.msg}")
            return _FAILED
        found = _walk_reference(reader, inner, node, what)
        if found is not MISSING:
            return found
        try:  # more than a key path: Metaflow evaluates it, with the Configs as names
            value = evaluate(source, reader.config_locals, Path(reader.path))
        except ConfigCodeError as exc:
            reader.error(node, f"{what}: config_expr({source!r}) {exc}")
            return _FAILED
        try:
            return as_json(value)
        except ConfigCodeError as exc:
            reader.error(node, f"{what}: config_expr({source!r}) gave {exc}")
            return _FAILED
    return _walk_reference(reader, node, node, what)


def _is_config_expr(reader: Reading, node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and reader.info.api_name(node.func) == "config_expr"


def _walk_reference(reader: Reading, node: ast.expr, at: ast.AST, what: str) -> Any:
    keys: list[Any] = []
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            keys.append(node.attr)
        elif isinstance(node.slice, ast.Constant):
            keys.append(node.slice.value)
        else:
            return MISSING
        node = node.value
    if keys and _is_config_expr(reader, node):  # config_expr("cfg").key
        value = config_reference(reader, node, what)
        if value is _FAILED:
            return _FAILED
        path = ast.unparse(node)
    elif isinstance(node, ast.Name) and node.id in reader.configs:
        value, path = reader.configs[node.id], node.id
        if value is _FAILED:
            return _FAILED
    else:
        return MISSING
    for key in reversed(keys):
        in_list = (isinstance(value, list) and isinstance(key, int)
                   and -len(value) <= key < len(value))
        if in_list or (isinstance(value, dict) and key in value):
            value = value[key]
        else:
            reader.error(at, f"{what}: the Config {path!r} has no {path}[{key!r}]")
            return _FAILED
        path += f"[{key!r}]"
    return value


def with_config_values(reader: Reading, node: ast.expr, what: str) -> ast.expr | None:
    """`node`, a container (`{"k": cfg.key}`, `[config_expr("...")]`), with the Config
    references in it replaced by their values (Metaflow resolves them at any depth); the node
    itself when it holds none; None after an error."""
    if not reader.configs or not isinstance(node, ast.Dict | ast.List | ast.Tuple | ast.Set):
        return node
    failed = False

    class Substitute(ast.NodeTransformer):
        def visit(self, child: ast.AST) -> ast.AST:
            nonlocal failed
            if isinstance(child, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
                value = config_reference(reader, child, what)
                if value is _FAILED:
                    failed = True
                    return child
                if value is not MISSING:
                    return ast.copy_location(ast.Constant(value), child)
                if isinstance(child, ast.Call):  # some other call: not a literal anyway
                    return child
            return self.generic_visit(child)

    result = Substitute().visit(copy.deepcopy(node))
    return None if failed else cast(ast.expr, result)


def unpacked_config(reader: Reading, node: ast.expr, what: str) -> dict[str, Any] | None:
    """The keyword arguments `**cfg` gives (a Config's keys, as in Metaflow); None, after an
    error, when `node` is not a Config (or a part of one) holding an object."""
    value = config_reference(reader, node, what)
    if value is _FAILED:
        return None
    if value is MISSING or not isinstance(value, dict):
        shown = ast.unparse(node)[:40]
        reader.error(node, f"{what}: `**{shown}`: only a Config (or a key of one) holding an "
                     "object can give keyword arguments here")
        return None
    return dict(value)


def is_failure(value: Any) -> bool:
    return value is _FAILED
