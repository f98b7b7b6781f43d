"""`@secrets`: AWS Secrets Manager values as environment variables at task start.

Metaflow's rules: a source is a secret id or ARN (`"name"`, `"aws-secrets-manager.name"`) or a
dict `{"type": ..., "id": ..., "options": {...}, "role": ...}`. A JSON object secret gives
one variable per key (values turned into strings); with `options={"json": False}`, or for a
binary secret (base64-encoded), one variable named `options["env_var_name"]` or else after
the secret. Names are sanitised (`-`, `.` and `/` become `_`) and must then be valid variable
names not starting with `METAFLOW_`; two sources may not set the same variable, nor may a
source replace a variable already set unless `allow_override=True`. The region is the ARN's,
else `options["region"]`, else METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION, else boto3's.
`role` (of the source, else of the decorator, else METAFLOW_DEFAULT_SECRETS_ROLE or
METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_ROLE) is assumed through STS first.

The `inline` type (`options={"env_vars": {...}}`) is Metaflow's testing source, kept for
parity. Values are never printed: errors name the secret and the variable only.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any

from sfncompile.conventions.secret_sources import SecretsError, normalise_sources

__all__ = ["SecretsError", "apply_secrets", "normalise_sources", "secrets_environment"]

_ENV_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DISALLOWED_PREFIXES = ("METAFLOW_",)
_ARN_REGION = re.compile(r"arn:aws:secretsmanager:([^:]+):")


def _sanitise(key: str) -> str:
    return key.replace("-", "_").replace(".", "_").replace("/", "_")


def _aws_values(spec: dict[str, Any]) -> dict[str, str]:
    import boto3

    options, secret_id = spec["options"], spec["id"]
    match = _ARN_REGION.match(secret_id)
    region = (match.group(1) if match else options.get("region")
              or os.environ.get("METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION") or None)
    session = boto3.session.Session()
    role = (spec["role"] or os.environ.get("METAFLOW_DEFAULT_SECRETS_ROLE")
            or os.environ.get("METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_ROLE"))
    if role:
        creds = session.client("sts").assume_role(
            RoleArn=role, RoleSessionName="sfncompile-secrets")["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"])
    response = session.client("secretsmanager", region_name=region).get_secret_value(
        SecretId=secret_id)
    name = response.get("Name", secret_id)
    pairs: list[tuple[str, str]] = []
    if "SecretString" in response:
        text = response["SecretString"]
        if options.get("json", True):
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                raise SecretsError("its value is not JSON; give options={'json': False} to "
                                   "set it as one variable") from None
            if not isinstance(obj, dict):
                raise SecretsError(f"its value is JSON but not an object ({type(obj).__name__})")
            pairs = [(str(k), str(v)) for k, v in obj.items()]
        else:
            pairs = [(options.get("env_var_name") or name, text)]
    elif "SecretBinary" in response:
        raw = response["SecretBinary"]
        pairs = [(options.get("env_var_name") or name, base64.b64encode(raw).decode())]
    else:
        raise SecretsError("the response has neither SecretString nor SecretBinary")
    values: dict[str, str] = {}
    for key, value in pairs:
        env = _sanitise(key)
        if env in values:
            raise SecretsError(f"two keys sanitise to the variable {env!r}")
        values[env] = value
    return values


def _values(spec: dict[str, Any]) -> dict[str, str]:
    if spec["type"] == "inline":
        env_vars = spec["options"].get("env_vars", {})
        return {str(k): v for k, v in env_vars.items()}
    try:
        return _aws_values(spec)
    except SecretsError:
        raise
    except Exception as exc:
        raise SecretsError(_aws_reason(exc)) from None


def _aws_reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        hints = {"ResourceNotFoundException": "it does not exist (check the id and region)",
                 "AccessDeniedException": "access denied: the task's role needs "
                                          "secretsmanager:GetSecretValue on it",
                 "AccessDenied": "access denied when assuming the role"}
        return f"{code}: {hints.get(code, message)}" if code else str(exc)
    return f"{type(exc).__name__}: {exc}"


def _check_name(secret: str, name: str, value: object) -> None:
    if not isinstance(value, str):
        raise SecretsError(f"secret {secret!r}: the value of {name!r} is not a string")
    if not _ENV_NAME.fullmatch(name):
        raise SecretsError(f"secret {secret!r}: {name!r} is not a valid environment "
                           "variable name")
    for prefix in _DISALLOWED_PREFIXES:
        if name.startswith(prefix):
            raise SecretsError(f"secret {secret!r}: the variable {name!r} starts with {prefix!r}, "
                               "which is reserved")


def secrets_environment(config: dict[str, Any], environ: dict[str, str] | None = None
                        ) -> dict[str, str]:
    """The variables that the step's `@secrets` sets (checked against `environ`)."""
    environ = dict(os.environ) if environ is None else environ
    by_name: dict[str, str] = {}
    result: dict[str, str] = {}
    for spec in normalise_sources(config.get("sources") or [], config.get("role")):
        secret = spec["id"]
        try:
            values = _values(spec)
        except SecretsError as exc:
            raise SecretsError(f"@secrets: cannot read secret {secret!r}: {exc}") from None
        for name, value in values.items():
            _check_name(secret, name, value)
            if name in by_name:
                raise SecretsError(f"@secrets: secret {secret!r} sets {name!r}, which secret "
                                   f"{by_name[name]!r} sets too")
            if name in environ and not config.get("allow_override"):
                raise SecretsError(f"@secrets: secret {secret!r} sets {name!r}, which is "
                                   "already in the environment (allow_override=True replaces it)")
            by_name[name] = secret
            result[name] = value
    return result


def apply_secrets(config: dict[str, Any] | None) -> None:
    """Set the step's secrets in os.environ (so also for processes the step starts)."""
    if config:
        os.environ.update(secrets_environment(config))
