"""Artifact values as plain JSON, the same way in both interpreters.

Metaflow's values are read by Metaflow's client in a Metaflow process and sfncompile's by
sfncompile's client in the test process; each side normalises with this module (stdlib only,
importable by any Python) and only the JSON crosses, so neither side has to unpickle the
other's classes. Equal values normalise to equal JSON: containers keep their kind (a tuple is
not a list), dicts and sets compare regardless of order (as ``==`` does), and an object is its
class name and its public attributes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 20


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def normalise(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return {"repr": "<too deep>"}
    down = depth + 1
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"int": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, list):
        return {"list": [normalise(v, down) for v in value]}
    if isinstance(value, tuple):
        return {"tuple": [normalise(v, down) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"set": sorted((normalise(v, down) for v in value), key=_key)}
    if isinstance(value, Mapping):
        pairs = [[normalise(k, down), normalise(v, down)] for k, v in value.items()]
        return {"dict": sorted(pairs, key=_key)}
    attrs = {k: normalise(v, down) for k, v in sorted(getattr(value, "__dict__", {}).items())
             if not k.startswith("_")}
    if isinstance(value, BaseException):
        attrs["args"] = normalise(value.args, down)
    if attrs:
        return {"object": type(value).__name__, "attrs": attrs}
    return {"object": type(value).__name__, "str": str(value)}
