"""IncludeFile, Config and config_expr, as flows import them (Metaflow's spelling).

At class level they only record their arguments: the parser reads them statically, and the
`start` task turns them into artifacts (a file's contents; a Config's value, as a ConfigValue
that reads `cfg.key` and `cfg["key"]`). A Config referenced in a decorator at class level
(`@resources(cpu=cfg.cpu)`, `config_expr("cfg.cpu")`, `**cfg`) was resolved when the flow was
built, so at run time such a reference is only a placeholder.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable
from typing import Any, NamedTuple

from sfncompile.flow.api import Parameter


class ParameterContext(NamedTuple):
    """What a function given as a Parameter's default receives (Metaflow's fields)."""

    flow_name: str
    user_name: str
    parameter_name: str
    logger: Callable[..., None]
    ds_type: str
    configs: Any


class ConfigValue(dict):  # type: ignore[type-arg]
    """A Config's value: read-only, by key or by attribute, nested values wrapped too. A dict,
    as Metaflow's is, so `isinstance(v, dict)` and `json.dumps(v)` work."""

    def __init__(self, data: collections.abc.Mapping[str, Any]) -> None:
        super().__init__({k: _wrap(v) for k, v in data.items()})

    def __getattr__(self, key: str) -> Any:
        if key in self:
            return self[key]
        raise AttributeError(key)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("ConfigValue is immutable")

    def _immutable(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("ConfigValue is immutable")

    __setitem__ = __delitem__ = clear = update = setdefault = pop = popitem = _immutable
    __ior__ = _immutable

    def __repr__(self) -> str:
        return f"ConfigValue({self.to_dict()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self.to_dict(),))

    def copy(self) -> ConfigValue:
        return ConfigValue(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {k: _unwrap(v) for k, v in self.items()}


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return ConfigValue(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, ConfigValue):
        return value.to_dict()
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class _Deferred:
    """A Config reference at class level (`cfg.cpu`, `config_expr(...)`): its value was fixed
    when the flow was built, so the running flow never needs it."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __getattr__(self, name: str) -> _Deferred:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Deferred(f"{self._path}.{name}")

    def __getitem__(self, key: Any) -> _Deferred:
        return _Deferred(f"{self._path}[{key!r}]")

    def keys(self) -> list[str]:
        """`**cfg.key` in a decorator: one placeholder argument (the parser read the keys)."""
        return [f"<{self._path}>"]

    def __repr__(self) -> str:
        return f"<config {self._path} (resolved when the flow was built)>"


def config_expr(expr: str) -> Any:
    return _Deferred(expr)


class Config(Parameter):
    """A configuration of the flow: a JSON file (`default=`) or value (`default_value=`)."""

    def __init__(self, name: str, default: Any = None, default_value: Any = None,
                 help: str | None = None, required: bool | None = None, parser: Any = None,
                 plain: bool = False, **kwargs: Any) -> None:
        super().__init__(name, default=default, help=help, required=bool(required), **kwargs)
        self.default_value = default_value
        self.parser = parser
        self.plain = plain

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Deferred(f"{self.name}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return _Deferred(f"{self.name}[{key!r}]")

    def keys(self) -> list[str]:
        """`**cfg` in a decorator: one placeholder argument (the parser read the keys)."""
        return [f"<{self.name}>"]


class IncludeFile(Parameter):
    """A file whose contents become the artifact; the value given to the run is its path."""

    def __init__(self, name: str, required: bool | None = None, is_text: bool | None = None,
                 encoding: str | None = None, help: str | None = None, parser: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name, default=kwargs.pop("default", None), help=help,
                         required=bool(required), **kwargs)
        self.is_text = True if is_text is None else is_text
        self.encoding = encoding or "utf-8"
        self.parser = parser
