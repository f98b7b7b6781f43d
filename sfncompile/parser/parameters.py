"""Class attributes that are inputs of a run: Parameter, IncludeFile and Config.

- A Parameter's literal default is static (in the IR and the state machine's schedule input);
  any other default (a call, `os.environ`, arithmetic, a function of the context) is kept as
  source text and evaluated once per run by the `start` task, locally and on AWS.
- An IncludeFile's value is a file's contents, read when the run starts (`sfncompile run`,
  `sfncompile trigger`); its default is a path, or an expression giving one (`script_path(
  "movies.csv")`), evaluated once per run by the `start` task like a Parameter's.
- A Config's value is computed when the flow is built and fixed in the compiled flow (see
  parser/configs.py); decorator arguments and Parameter defaults may read it.
"""

from __future__ import annotations

import ast
import json
from typing import Any, cast

from sfncompile.ir import ParameterIR, ParamKind, ParamType
from sfncompile.parser.configs import read_config
from sfncompile.parser.module import MAX_LITERAL_DEPTH, too_deep
from sfncompile.parser.reading import Reading

# Metaflow's positional order for each, and every keyword each accepts here.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "Parameter": ("name", "default", "type", "help", "required", "show_default", "separator"),
    "IncludeFile": ("name", "required", "is_text", "encoding", "help", "parser", "default",
                    "show_default"),
    "Config": ("name", "default", "default_value", "help", "required", "parser", "plain",
               "show_default"),
}
_POSITIONAL = {"Parameter": 6, "IncludeFile": 6, "Config": 7}
_KINDS: dict[str, ParamKind] = {"Parameter": "parameter", "IncludeFile": "include_file",
                                "Config": "config"}
_PARAM_TYPES = {"str": "str", "int": "int", "float": "float", "bool": "bool"}
# Names Metaflow reserves for its own command-line options.
RESERVED_NAMES = frozenset({
    "params", "with", "tag", "namespace", "obj", "tags", "decospecs", "run-id-file",
    "max-num-splits", "max-workers", "max-log-size", "user-namespace", "run-id", "task-id",
    "runner-attribute-file",
})


def parameter_call(reader: Reading, stmt: ast.stmt) -> str | None:
    """'Parameter', 'IncludeFile' or 'Config' if the statement assigns one, else None."""
    value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
    if isinstance(value, ast.Call):
        name = reader.info.api_name(value.func)
        if name in SIGNATURES:
            return name
    return None


def read_parameter(reader: Reading, stmt: ast.Assign | ast.AnnAssign,
                   not_literal: Any) -> ParameterIR | None:
    call = cast(ast.Call, stmt.value)
    api = cast(str, parameter_call(reader, stmt))
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    if len(targets) != 1 or not isinstance(targets[0], ast.Name):
        reader.error(stmt, f"a {api} must be assigned to one class attribute")
        return None
    attr = targets[0].id
    where = f"{api} {attr!r}"
    allowed = SIGNATURES[api]
    args: dict[str, ast.expr] = {}
    if len(call.args) > _POSITIONAL[api]:
        reader.error(call.args[_POSITIONAL[api]], f"{where}: too many positional arguments")
    args.update(zip(allowed, call.args[:_POSITIONAL[api]], strict=False))
    for kw in call.keywords:
        if kw.arg in allowed:
            args[kw.arg] = kw.value
        else:
            reader.error(kw.value if kw.arg is None else kw,
                         f"{where}: unknown argument {kw.arg or '**'!r} (allowed: "
                         f"{', '.join(allowed)})")
    if "name" not in args:
        reader.error(call, f"{where}: needs a name, e.g. {api}('{attr}', ...)")
        return None
    values: dict[str, Any] = {}
    default_expr: str | None = None
    for key, node in args.items():
        if key in ("type", "parser"):  # the runtime's (a Config's: read by read_config)
            continue
        expr_default = key == "default" and api in ("Parameter", "IncludeFile")
        # A Config's default (or default_value) may be a function, called when it is built.
        code_default = api == "Config" and key in ("default", "default_value")
        value = reader.literal(node, f"{where}: {key}", quiet=expr_default or code_default)
        if value is not_literal and code_default:
            continue
        if value is not_literal:
            if expr_default:
                if too_deep(node, MAX_LITERAL_DEPTH):  # ast.unparse would recurse too deep
                    reader.error(node, f"{where}: default nests more than {MAX_LITERAL_DEPTH} "
                                 "levels deep")
                    return None
                default_expr = ast.unparse(node)
                continue
            return None
        values[key] = value
    name = values["name"]
    if not isinstance(name, str) or not name:
        reader.error(args["name"], f"{where}: the name must be a non-empty string")
        return None
    if name in RESERVED_NAMES or name.replace("_", "-") in RESERVED_NAMES:
        reader.error(args["name"], f"{where}: the name {name!r} is reserved for a command-line "
                     "option (as in Metaflow); choose another")
        return None
    checks = (("help", str, "a string"), ("required", bool, "True or False"),
              ("show_default", bool, "True or False"), ("separator", str, "a string"),
              ("is_text", bool, "True or False"), ("encoding", str, "a string"),
              ("plain", bool, "True or False"))
    for key, wanted, kind in checks:
        if values.get(key) is not None and not isinstance(values[key], wanted):
            reader.error(args[key], f"{where}: {key} must be {kind}, not {values[key]!r:.40}")
            return None
    common: dict[str, Any] = {
        "name": name, "attr": attr, "required": bool(values.get("required") or False),
        "help": values.get("help"), "pos": reader.pos(stmt), "kind": _KINDS[api],
        "show_default": values.get("show_default", True) is not False,
    }
    if api == "IncludeFile":
        return _include_file(reader, where, args, values, default_expr, common)
    if api == "Config":
        return read_config(reader, where, args, values, common)
    return _parameter(reader, where, args, values, default_expr, common)


def _parameter(reader: Reading, where: str, args: dict[str, ast.expr], values: dict[str, Any],
               default_expr: str | None, common: dict[str, Any]) -> ParameterIR | None:
    default = values.get("default")
    ptype = _parameter_type(reader, args.get("type"), default, default_expr, where,
                            args.get("default"))
    if ptype is None:
        return None
    if ptype == "json" and isinstance(default, str):
        # Metaflow parses a JSONType default given as a string, like a value given on the
        # command line: a foreach over it fans out over the items, not the characters.
        try:
            default = json.loads(default)
        except ValueError as exc:
            reader.error(args["default"], f"{where}: the default is not valid JSON: {exc}")
            return None
    if default is not None and not _fits(ptype, default):
        reader.error(args["default"], f"{where}: default {default!r:.60} is not of type {ptype}")
        return None
    separator = values.get("separator")
    if separator is not None and (ptype != "str" or not separator):
        reader.error(args["separator"], f"{where}: separator= needs a non-empty string and a "
                     "string parameter (as in Metaflow)")
        return None
    problem = _json_problem(default)
    if problem:
        reader.error(args["default"], f"{where}: the default {problem}")
        return None
    if default is not None or default_expr is not None:
        common["required"] = False  # Metaflow ignores required= when there is a default
    return ParameterIR(type=cast(ParamType, ptype), default=default, default_expr=default_expr,
                       infer_type=(default_expr is not None and "type" not in args
                                   and _arithmetic_type(args.get("default")) is None),
                       separator=separator, **common)


def _arithmetic_type(node: ast.expr | None) -> str | None:
    """'int' or 'float' for arithmetic on number literals (`60 * 60`), else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return "int" if type(node.value) is int else "float"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        return _arithmetic_type(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div
                                                  | ast.FloorDiv | ast.Mod | ast.Pow):
        left, right = _arithmetic_type(node.left), _arithmetic_type(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div) or "float" in (left, right):
            return "float"
        return "int"
    return None


def _parameter_type(reader: Reading, node: ast.expr | None, default: Any,
                    default_expr: str | None, where: str,
                    args_default: ast.expr | None = None) -> str | None:
    if node is None:
        if default_expr is not None:
            # Arithmetic on numbers has their type; anything else is a string unless its value
            # says otherwise when it is evaluated (infer_type), as Metaflow's type(default).
            return _arithmetic_type(args_default) or "str"
        for kind, t in (("bool", bool), ("int", int), ("float", float), ("json", dict),
                        ("json", list)):
            if isinstance(default, t):
                return kind
        return "str"
    if reader.info.api_name(node) == "JSONType":
        return "json"
    if isinstance(node, ast.Name) and node.id in _PARAM_TYPES:
        return _PARAM_TYPES[node.id]
    reader.error(node, f"{where}: type must be str, int, float, bool or JSONType, "
                 f"not `{ast.unparse(node)[:40]}`")
    return None


def _include_file(reader: Reading, where: str, args: dict[str, ast.expr],
                  values: dict[str, Any], default_expr: str | None,
                  common: dict[str, Any]) -> ParameterIR | None:
    default = values.get("default")
    if default is not None and not isinstance(default, str):
        reader.error(args["default"], f"{where}: the default must be a file path (a string)")
        return None
    encoding = values.get("encoding") or "utf-8"
    try:
        "".encode(encoding)
    except LookupError:
        reader.error(args["encoding"], f"{where}: unknown encoding {encoding!r}")
        return None
    if default_expr is not None:
        common["required"] = False  # as for a Parameter: the expression gives the path
    return ParameterIR(type="str", default=default, default_expr=default_expr,
                       is_text=values.get("is_text") is not False, encoding=encoding, **common)


def _fits(ptype: str, value: Any) -> bool:
    if ptype == "json":
        return True
    if ptype == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if ptype == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "bool": bool}[ptype])


def _json_problem(value: Any) -> str | None:
    """Why `value` cannot travel as JSON (to the runtime and the state machine), or None."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return "is not a finite number" if isinstance(value, float) else f"is not JSON: {exc}"
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return "is not JSON: the keys of a JSON object must be strings"
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None
