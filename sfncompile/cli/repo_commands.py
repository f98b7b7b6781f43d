"""`init`, `check-goldens` and `verify`: the upkeep of a repository of flows and of a datastore."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from sfncompile.cli.common import EXIT_DIFF, EXIT_USAGE, check_datastore_root
from sfncompile.errors import FlowErrors, UsageError

# A flow module defines a FlowSpec subclass; other Python files are not the hook's business.
_FLOW_CLASS = re.compile(r"^class\s+\w+\s*\([^)]*FlowSpec", re.MULTILINE)
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".cache"}


def _flow_of(path: Path, pattern: str) -> Path | None:
    """The flow a changed file stands for: a flow module, or the flow beside a golden."""
    from sfncompile.review.golden import DEFAULT_PATTERN

    if path.name.endswith(".asl.json") and pattern == DEFAULT_PATTERN:
        path = path.with_name(path.name[: -len(".asl.json")] + ".py")
    if path.suffix != ".py" or not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return path if _FLOW_CLASS.search(text) else None


def _all_python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py")
                  if not _SKIP_DIRS.intersection(p.relative_to(root).parts[:-1]))


@click.command("check-goldens")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--golden", "pattern", metavar="PATTERN", default="{dir}/{stem}.asl.json",
              show_default=True,
              help="Where a flow's golden is: {dir} is the flow's directory, {stem} its file "
                   "name without .py, {name} its file name.")
@click.option("--update", is_flag=True, help="Rewrite the goldens that differ or are missing.")
def check_goldens(files: tuple[Path, ...], pattern: str, update: bool) -> None:
    """Check that every flow among FILES still builds and matches its golden ASL.

    FILES may be flows or goldens (a golden stands for the flow beside it); other files are
    skipped, so a pre-commit hook can pass every changed file. Without FILES, every flow under
    the current directory. Exit 1 when a golden differs or is missing, 2 when a flow does not
    build.
    """
    from sfncompile.review.golden import check_flow

    candidates = list(files) or _all_python_files(Path("."))
    flows = sorted({f for f in (_flow_of(p, pattern) for p in candidates) if f is not None})
    drifted = broken = rewritten = 0
    for flow in flows:
        try:
            check = check_flow(flow, pattern=pattern)
        except FlowErrors as exc:
            broken += 1
            for error in exc.errors:
                click.echo(str(error), err=True)
            continue
        except UsageError as exc:
            broken += 1
            click.echo(f"error: {exc}", err=True)
            continue
        if check.up_to_date:
            continue
        if update:
            check.update()
            rewritten += 1
            click.echo(f"{check.golden}: rewritten from {flow}", err=True)
            continue
        drifted += 1
        click.echo(check.explain())
    if not (broken or drifted or rewritten):
        click.echo("1 flow matches its golden" if len(flows) == 1
                   else f"{len(flows)} flows match their goldens", err=True)
    if drifted:
        click.echo(f"{drifted} golden{'s' if drifted != 1 else ''} out of date: run "
                   f"`sfncompile check-goldens --update` and review the diff", err=True)
    sys.exit(EXIT_USAGE if broken else EXIT_DIFF if drifted else 0)


@click.command("init")
@click.argument("directory", metavar="[DIR]", default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--sfncompile-spec", "spec", metavar="PIN|PATH|WHEEL|URL",
              help="How the project's requirements.txt (and so its CI) installs sfncompile, "
                   "as pip reads it from DIR: a path to a wheel or a checkout, a URL, or a "
                   "pin. Default: sfncompile==<this version>, which needs sfncompile on PyPI.")
def init(directory: Path, force: bool, spec: str | None) -> None:
    """Start a flow project in DIR: an example flow and its golden, sfncompile.toml, a test
    using the pytest plugin, and a GitHub Actions workflow."""
    from sfncompile import __version__
    from sfncompile.review.scaffold import scaffold

    for path in scaffold(directory, __version__, force, spec):
        click.echo(f"created {path}")


EXIT_DAMAGED = 1


def _split(pathspec: str | None) -> tuple[str | None, str | None]:
    if pathspec is None:
        return None, None
    flow, slash, run = pathspec.partition("/")
    bad = flow in ("", ".", "..") or "/" in run or run in (".", "..", "data")
    if bad or (slash and not run):
        raise UsageError(f"{pathspec!r}: name a flow as Flow or a run as Flow/run-id")
    return flow, run or None


@click.command()
@click.argument("pathspec", metavar="[FLOW[/RUN]]", required=False)
@click.option("--datastore-root", envvar="SFNCOMPILE_DATASTORE_ROOT", default=".sfncompile",
              show_default=True, metavar="DIR|s3://BUCKET/PREFIX",
              help="Where runs and artifacts are kept (env: SFNCOMPILE_DATASTORE_ROOT).")
@click.option("--repair", is_flag=True,
              help="Remove the bad blobs, so that the next save writes them again.")
def verify(pathspec: str | None, datastore_root: str, repair: bool) -> None:
    """Check artifact blobs against their sha256 and report every bad one.

    \b
    With FLOW/RUN, the blobs that run's tasks recorded (a missing one is bad too);
    with FLOW, every blob of the flow; with nothing, every flow under the root.
    Nothing is unpickled. Exits 1 when anything bad was found (also with --repair).
    """
    from sfncompile.datastore.integrity import scan

    flow, run = _split(pathspec)
    report = scan(check_datastore_root(datastore_root, write=repair), flow, run, repair)
    for record in report.damaged_records:
        click.echo(f"damaged: {record}")
    for bad in report.bad:
        users = f" (used by {', '.join(bad.used_by)})" if bad.used_by else ""
        action = "removed" if repair else "bad"
        click.echo(f"{action}: {bad.url}: {bad.reason}{users}")
    click.echo(f"checked {report.checked} blob{'s' if report.checked != 1 else ''}: "
               f"{len(report.bad)} bad" + (", removed" if repair and report.bad else ""))
    if report.bad or report.damaged_records:
        raise SystemExit(EXIT_DAMAGED)


COMMANDS = [init, check_goldens, verify]
