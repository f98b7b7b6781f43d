"""`sfncompile card list|get|view Flow/run/step[/task]`: the cards that `@card` stored."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from sfncompile.errors import UsageError

_pathspec = click.argument("pathspec", metavar="FLOW/RUN/STEP[/TASK]")
_id = click.option("--id", "card_id", metavar="ID", help="The card with this @card(id=...).")
_type = click.option("--type", "card_type", metavar="TYPE", help="Cards of this type only.")
_root = click.option(
    "--datastore-root", envvar="SFNCOMPILE_DATASTORE_ROOT", default=".sfncompile",
    show_default=True, metavar="DIR|s3://BUCKET/PREFIX",
    help="Where runs and artifacts are kept (env: SFNCOMPILE_DATASTORE_ROOT).")


def _task(pathspec: str, datastore_root: str) -> Any:
    """The committed client Task that `pathspec` names (a step's only task for 3 parts)."""
    from sfncompile import client
    from sfncompile.cli.common import check_datastore_root

    parts = pathspec.split("/")
    shown = repr(pathspec) if len(pathspec) <= 80 else repr(pathspec[:60] + "...")
    if len(parts) not in (3, 4) or not all(parts):
        raise UsageError(f"{shown}: expected Flow/run-id/step or Flow/run-id/step/task")
    if not (parts[0].isidentifier() and parts[2].isidentifier()):
        raise UsageError(f"{shown}: the flow and step names must be Python identifiers")
    if any(p in (".", "..", "data") or not p.isprintable() or len(p) > 255 for p in parts):
        raise UsageError(f"{shown}: not a task of a run (reserved or unprintable part)")
    from sfncompile.exception import MetaflowNotFound

    client.set_datastore_root(check_datastore_root(datastore_root, write=False))
    client.namespace(None)
    try:
        run = client.Run("/".join(parts[:2]))
    except MetaflowNotFound:
        raise UsageError(f"no run {'/'.join(parts[:2])} under {datastore_root}") from None
    if not run.step_names():
        raise UsageError(f"no run {'/'.join(parts[:2])} under {datastore_root}")
    if parts[2] not in run:
        raise UsageError(f"run {run.pathspec} has no step {parts[2]!r}")
    step = run[parts[2]]
    tasks = {t.id: t for t in step.tasks() if t.attempt is not None}  # committed ones
    if len(parts) == 4:
        if parts[3] not in tasks:
            raise UsageError(f"no committed task {pathspec} under {datastore_root}")
        return tasks[parts[3]]
    if len(tasks) != 1:
        listed = ", ".join(list(tasks)[:10]) or "none committed"
        raise UsageError(f"{pathspec} has {len(tasks)} tasks ({listed}): name one as "
                         f"{pathspec}/TASK")
    return next(iter(tasks.values()))


def _cards(pathspec: str, datastore_root: str, card_id: str | None,
           card_type: str | None) -> list[Any]:
    from sfncompile.client.card_reader import task_cards

    task = _task(pathspec, datastore_root)
    cards = task_cards(task, id=card_id, type=card_type)
    if not cards:
        wanted = " ".join(f"{k}={v!r}" for k, v in (("id", card_id), ("type", card_type)) if v)
        raise UsageError(f"{task.pathspec} has no card{' with ' + wanted if wanted else ''} "
                         "(its step needs @card)")
    return cards


@click.group()
def card() -> None:
    """Read the HTML cards that @card stored with a task."""


@card.command("list")
@_pathspec
@_root
def list_cards(pathspec: str, datastore_root: str) -> None:
    """List a task's cards: type, id and where each is stored."""
    for c in _cards(pathspec, datastore_root, None, None):
        click.echo(f"{c.type}\t{c.id or '-'}\t{c.url}")


@card.command()
@_pathspec
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_id
@_type
@_root
def get(pathspec: str, file: Path | None, card_id: str | None, card_type: str | None,
        datastore_root: str) -> None:
    """Write a task's card (the first, or the one --id/--type picks) to FILE, or print it."""
    html = _cards(pathspec, datastore_root, card_id, card_type)[0].get()
    if file is None:
        click.echo(html, nl=False)
        return
    try:
        file.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{file}: cannot write it: {exc.strerror}") from None


@card.command()
@_pathspec
@_id
@_type
@_root
def view(pathspec: str, card_id: str | None, card_type: str | None,
         datastore_root: str) -> None:
    """Open a task's card in a browser; without a display, print the file's path."""
    chosen = _cards(pathspec, datastore_root, card_id, card_type)[0]
    if chosen.url.startswith("file://"):
        path = Path(chosen._storage.root, chosen.path)  # the datastore's own file
    else:  # on S3: a local copy to open, in a directory of its own (private, 0700), so
        # that two views, or two users, never share a path under /tmp
        own = Path(tempfile.mkdtemp(prefix="sfncompile-card-"))
        path = own / chosen.path.rsplit("/", 1)[-1]
        path.write_text(chosen.get(), encoding="utf-8")
    if _has_display():
        import webbrowser

        if webbrowser.open(path.resolve().as_uri()):
            click.echo(f"opened {path}")
            return
    click.echo(str(path))


def _has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


COMMANDS = [card]
