"""The `sfncompile` command line."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from sfncompile.errors import FlowErrors, UsageError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_DIFF = 1
EXIT_USAGE = 2


def friendly_errors(func: F) -> F:
    """Turn the project's errors into messages and exit codes, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FlowErrors as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            count = len(exc.errors)
            click.echo(f"{count} error{'s' if count != 1 else ''} found", err=True)
            sys.exit(EXIT_USAGE)
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfncompile")
def main() -> None:
    """Run Metaflow-style flows locally, or compile them to AWS Step Functions.

    \b
      sfncompile run flow.py            run every step as a local process
      sfncompile build flow.py          print the state machine (ASL)
      sfncompile graph flow.py          draw the step graph (Mermaid or dot)
    """


flow_argument = click.argument("flow_file", metavar="FLOW.py",
                               type=click.Path(dir_okay=False, path_type=Path))
flow_option = click.option("--flow", "flow_name", metavar="NAME",
                           help="The FlowSpec class to use when the file defines several.")


def load_flow(flow_file: Path, flow_name: str | None) -> Any:
    from sfncompile.parser import parse_flow

    return parse_flow(flow_file, flow_name)


@main.command()
@flow_argument
@flow_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@click.option("--check", "golden", type=click.Path(dir_okay=False, path_type=Path),
              help="Compare with a golden file; exit 1 with a unified diff if it differs.")
@click.option("--resolve", "resolve_pairs", multiple=True, metavar="KEY=VALUE",
              help="Substitute a ${KEY} placeholder (repeatable), as deploy does.")
@friendly_errors
def build(flow_file: Path, flow_name: str | None, output: Path | None, golden: Path | None,
          resolve_pairs: tuple[str, ...]) -> None:
    """Compile FLOW.py to Amazon States Language (JSON).

    The output is deterministic and account-independent: deployment values are ${Name}
    placeholders (JobQueue, JobDefinition, S3Bucket, S3KeyPrefix) that deploy fills in.
    """
    from sfncompile.emit import compile_asl
    from sfncompile.emit.render import render_json, resolve

    definition = compile_asl(load_flow(flow_file, flow_name))
    if resolve_pairs:
        definition = resolve(definition, parse_pairs(resolve_pairs, "--resolve"))
    text = render_json(definition)
    emit_text(text, output, golden)


def emit_text(text: str, output: Path | None, golden: Path | None) -> None:
    if golden is not None:
        try:
            expected = golden.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--check {golden}: cannot read it: {exc.strerror}") from None
        if expected != text:
            diff = difflib.unified_diff(expected.splitlines(keepends=True),
                                        text.splitlines(keepends=True),
                                        fromfile=str(golden), tofile="(built)")
            sys.stdout.writelines(diff)
            sys.exit(EXIT_DIFF)
        click.echo(f"{golden}: up to date", err=True)
        return
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"-o {output}: cannot write it: {exc.strerror}") from None
        return
    sys.stdout.write(text)


@main.command()
@flow_argument
@flow_option
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid renders in GitHub pull requests.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def graph(flow_file: Path, flow_name: str | None, fmt: str, output: Path | None) -> None:
    """Draw the step graph of FLOW.py."""
    from sfncompile.emit import diagram

    flow = load_flow(flow_file, flow_name)
    emit_text(diagram.mermaid(flow) if fmt == "mermaid" else diagram.dot(flow), output, None)


@main.command()
@click.argument("asl_file", metavar="FILE.json", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def validate(asl_file: Path) -> None:
    """Check an ASL file against sfncompile's JSON Schema for Amazon States Language."""
    import json

    from sfncompile.emit.validate import validate_asl

    try:
        definition = json.loads(asl_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{asl_file}: cannot read it: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{asl_file}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    problems = validate_asl(definition)
    for problem in problems:
        click.echo(f"{asl_file}: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{asl_file}: valid")
