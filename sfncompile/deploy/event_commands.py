"""`sfncompile event publish NAME [--param K=V]`: send a custom event, as Metaflow's
`ArgoEvent(NAME).publish(payload)` does; every deployed flow with `@trigger(event=NAME)` starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sfncompile.errors import UsageError


@click.group()
def event() -> None:
    """Send events that start deployed flows."""


@event.command("publish")
@click.argument("name", metavar="NAME")
@click.option("--param", "params", multiple=True, metavar="FIELD=VALUE",
              help="A payload field (repeatable); the flows' @trigger maps fields to "
                   "parameters.")
@click.option("--payload", metavar="JSON", help="The whole payload as a JSON object.")
@click.option("--event-bus", metavar="BUS", help="The bus (default: the setting, else the "
              "account's default bus).")
@click.option("--region", metavar="REGION")
def publish(name: str, params: tuple[str, ...], payload: str | None, **settings: Any) -> None:
    """Publish the event NAME with a payload; print its EventBridge id."""
    from sfncompile.deploy.config import load_config
    from sfncompile.events import EventError, publish_event
    from sfncompile.runtime.params import ParameterError, parse_cli_pairs

    body: dict[str, Any] = {}
    if payload is not None:
        try:
            body = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--payload: not JSON: {exc.msg}") from None
        if not isinstance(body, dict):
            raise UsageError("--payload must be a JSON object")
    try:
        body.update(parse_cli_pairs(params, "--param"))
    except ParameterError as exc:
        raise UsageError(str(exc)) from None
    config = load_config(Path.cwd(), {k: v for k, v in settings.items() if v})
    if config.get("region"):
        import os

        os.environ.setdefault("AWS_DEFAULT_REGION", str(config.get("region")))
    try:
        event_id = publish_event(name, body, bus=str(config.get("event_bus") or "default"))
    except EventError as exc:
        raise UsageError(f"event {name[:80]!r}: {exc}") from None
    click.echo(f"Published {name!r} on bus {config.get('event_bus') or 'default'}", err=True)
    click.echo(event_id)
