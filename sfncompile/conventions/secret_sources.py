"""`@secrets` sources in one form, `{"type", "id", "options", "role"}`: the parser checks them
when a flow is built and the runtime reads the secrets they name (runtime/secrets.py).
"""

from __future__ import annotations

from typing import Any

AWS_TYPE = "aws-secrets-manager"
TYPES = (AWS_TYPE, "inline")


class SecretsError(Exception):
    """A secret could not be turned into environment variables; the message names it."""


def normalise_sources(sources: list[Any], role: str | None) -> list[dict[str, Any]]:
    """Each source as {"type", "id", "options", "role"}; raises SecretsError (bad spec)."""
    if not isinstance(sources, list | tuple):
        raise SecretsError("sources must be a list of secret ids or dicts")
    out = []
    for source in sources:
        if isinstance(source, str):
            kind, dot, rest = source.partition(".")
            kind, secret_id = (kind, rest) if dot else (AWS_TYPE, source)
            spec: dict[str, Any] = {"type": kind, "id": secret_id, "options": {}, "role": role}
        elif isinstance(source, dict):
            kind = source.get("type", AWS_TYPE)
            if not isinstance(kind, str):
                raise SecretsError(f"source {source!r}: 'type' must be a string")
            given_id = source.get("id")
            if not isinstance(given_id, str):
                raise SecretsError(f"source {source!r}: 'id' must be a string")
            secret_id = given_id
            options = source.get("options", {})
            if not isinstance(options, dict):
                raise SecretsError(f"source {secret_id!r}: 'options' must be a dict")
            own_role = source.get("role")
            if own_role is not None and not isinstance(own_role, str):
                raise SecretsError(f"source {secret_id!r}: 'role' must be a string")
            unknown = sorted(set(source) - {"type", "id", "options", "role"})
            if unknown:
                raise SecretsError(f"source {secret_id!r}: unknown keys {unknown} (allowed: "
                                   "type, id, options, role)")
            spec = {"type": kind, "id": secret_id, "options": dict(options),
                    "role": own_role if own_role is not None else role}
        else:
            raise SecretsError(f"a source must be a string or a dict, not {type(source).__name__}")
        if spec["type"] not in TYPES:
            raise SecretsError(
                f"source {source!r}: unknown secrets backend {spec['type']!r} (available: "
                f"{AWS_TYPE}); Metaflow reads the text before the first '.' as the backend, so "
                f"name a secret with a '.' as {{'id': {source!r}}}")
        out.append(spec)
    return out
