"""The review commands: `diff`, `check-goldens` and `init` (cli.py registers them)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from sfncompile.errors import FlowErrors, UsageError

EXIT_DIFF = 1
EXIT_USAGE = 2


@click.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("--json", "with_json", is_flag=True,
              help="After the summary, the unified diff of the ASL (JSON).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True,
              help="markdown: a pull-request comment with the step graph as Mermaid.")
@click.option("--flow", "flow_name", metavar="NAME",
              help="The FlowSpec class to use when a flow file defines several.")
def diff(old: str, new: str, with_json: bool, fmt: str, flow_name: str | None) -> None:
    """Say what changed between two state machines, step by step.

    OLD and NEW are each an ASL file (.json), a flow file (.py, built in-process), or
    git:REV:path, the file at a git revision of the current repository (path from the
    repository's root, as `git show REV:path` reads it). Exit 0 when equal, 1 when different.
    """
    from sfncompile.review import markdown
    from sfncompile.review.semantic import compare, json_diff, summary_text
    from sfncompile.review.sources import load_side

    before, after = load_side(old, flow_name), load_side(new, flow_name)
    result = compare(before.facts, after.facts, before.definition, after.definition, old, new)
    text_of_json = json_diff(before.definition, after.definition, old, new)
    if fmt == "markdown":
        click.echo(markdown.comment(before.facts, after.facts, result, text_of_json), nl=False)
    else:
        click.echo(summary_text(result), nl=False)
        if with_json and text_of_json:
            click.echo()
            click.echo(text_of_json, nl=False)
    sys.exit(0 if result.equal else EXIT_DIFF)


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
def init(directory: Path, force: bool) -> None:
    """Start a flow project in DIR: an example flow and its golden, sfncompile.toml, a test
    using the pytest plugin, and a GitHub Actions workflow."""
    from sfncompile.review.scaffold import scaffold

    for path in scaffold(directory, force):
        click.echo(f"created {path}")


COMMANDS = [diff, check_goldens, init]
