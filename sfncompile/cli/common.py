"""What every command shares: error handling, exit codes, options and loading a flow."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
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
EXIT_AWS = 1


def friendly_errors(func: F) -> F:
    """Turn the project's errors into messages and exit codes, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return result
        except BrokenPipeError:
            stdout_closed()
        except FlowErrors as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            count = len(exc.errors)
            click.echo(f"{count} error{'s' if count != 1 else ''} found", err=True)
            sys.exit(EXIT_USAGE)
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except Exception as exc:
            from sfncompile.datastore.storage import DatastoreError

            if isinstance(exc, DatastoreError):  # a damaged run record or artifact, named
                click.echo(f"error: {exc}", err=True)
                sys.exit(EXIT_AWS)
            # AWS errors (botocore's) are the user's to act on, not a bug of ours.
            if type(exc).__module__.split(".")[0] not in ("botocore", "boto3"):
                raise
            click.echo(f"error: AWS: {exc}", err=True)
            sys.exit(EXIT_AWS)

    return wrapper  # type: ignore[return-value]


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    from sfncompile.runtime.params import ParameterError, parse_cli_pairs

    try:
        return parse_cli_pairs(pairs, option)
    except ParameterError as exc:
        raise UsageError(str(exc)) from None


def check_streams() -> None:
    """A process started with its stdout or stderr closed (`sfncompile build f.py >&-`) has
    None there: say so and stop, rather than fail with a traceback at the first write."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process's lifetime
    if sys.stdout is None:
        click.echo("error: standard output is closed: redirect it (for example to "
                   "/dev/null) instead of closing it", err=True)
        sys.exit(EXIT_USAGE)


def stdout_closed() -> None:
    # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):  # no real descriptor (captured in tests)
        os.dup2(devnull, sys.stdout.fileno())
    click.echo("error: standard output was closed before everything was written", err=True)
    sys.exit(EXIT_USAGE)

flow_argument = click.argument("flow_file", metavar="FLOW.py",
                               type=click.Path(dir_okay=False, path_type=Path))
flow_option = click.option("--flow", "flow_name", metavar="NAME",
                           help="The FlowSpec class to use when the file defines several.")


with_option = click.option(
    "--with", "decospecs", multiple=True, metavar="DECO[:K=V,...]",
    help="Add a step decorator to every step that lacks it, as Metaflow's --with does "
         "(repeatable), e.g. --with retry:times=2.")
tag_option = click.option("--tag", "tags", multiple=True, metavar="TAG",
                          help="Tag the run (repeatable); steps read them as current.tags.")


run_id_file_option = click.option(
    "--run-id-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
    help="Write the run's id to PATH as soon as the run starts (Metaflow's option).")
max_splits_option = click.option(
    "--max-num-splits", type=click.IntRange(min=1), metavar="N",
    help="Fail the run when a foreach has more than N items (Metaflow's safety check, whose "
         "default is 100; default here: no limit).")


def load_flow(flow_file: Path, flow_name: str | None, decospecs: tuple[str, ...] = (),
              configs: dict[str, tuple[str, Any]] | None = None) -> Any:
    """The flow's IR; `configs` (given_configs) in place of its Configs' defaults."""
    from sfncompile.parser import parse_flow
    from sfncompile.parser.configs import unknown_configs
    from sfncompile.parser.with_decorators import apply_with

    flow = parse_flow(flow_file, flow_name, configs)
    problem = unknown_configs(flow, configs or {})
    if problem:
        raise UsageError(problem)
    return apply_with(flow, decospecs)


Pairs = tuple[tuple[str, str], ...]

config_file_option = click.option(
    "--config", "config_files", nargs=2, multiple=True, metavar="NAME PATH",
    help="The Config NAME's value from the file PATH instead of its default (Metaflow's "
         "option; repeatable).")
config_value_option = click.option(
    "--config-value", "config_values", nargs=2, multiple=True, metavar="NAME VALUE",
    help="The Config NAME's value, as text (JSON, or what its parser= reads), instead of its "
         "default (repeatable).")


# A deployed flow's Configs are part of its state machine and code package.
CONFIGS_AT_DEPLOY = ("--config/--config-value: a deployed flow's Configs are fixed when it is "
                     "deployed; give them to `sfncompile deploy` (python flow.py step-functions "
                     "create), not to trigger")


def given_configs(files: Pairs, values: Pairs) -> dict[str, tuple[str, str]]:
    """--config and --config-value (or METAFLOW_FLOW_CONFIG and METAFLOW_FLOW_CONFIG_VALUE,
    as Metaflow reads them) as the parser takes them: name -> (what gave it, text)."""
    from sfncompile.parser.configs import config_sources

    return config_sources(files, values, os.environ)


DEFAULT_ROOT = ".sfncompile"
datastore_option = click.option(
    "--datastore-root", envvar="SFNCOMPILE_DATASTORE_ROOT", default=DEFAULT_ROOT,
    show_default=True, metavar="DIR|s3://BUCKET/PREFIX",
    help="Where runs and artifacts are kept (env: SFNCOMPILE_DATASTORE_ROOT).")
workers_option = click.option(
    "--max-workers", type=click.IntRange(min=1), default=lambda: os.cpu_count() or 1,
    show_default="number of CPUs", help="Tasks run in parallel at most.")


def check_datastore_root(root: str, write: bool) -> str:
    """`root` if it can serve as a datastore (a writable one when `write`); else UsageError."""
    if root.startswith("s3://"):
        from sfncompile.deploy.config import split_s3_root

        split_s3_root(root, "--datastore-root")
        return root
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--datastore-root {root}: not a directory")
    if write:
        import tempfile

        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            raise UsageError(f"--datastore-root {root}: cannot write there: "
                             f"{exc.strerror}") from None
    return root


def root_option(root: str) -> str:
    """` --datastore-root ROOT` for a command we print for the user to run, unless ROOT is
    where that command looks anyway."""
    if root == os.environ.get("SFNCOMPILE_DATASTORE_ROOT", DEFAULT_ROOT):
        return ""
    return f" --datastore-root {shlex.quote(root)}"


# Metaflow's (click's) names for a Parameter's type in --help.
_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN",
               "json": "JSON"}


def parameter_rows(flow_file: Path, flow_name: str | None) -> list[tuple[str, str]]:
    """`--NAME TYPE` and its help, default or [required], for each Parameter and IncludeFile of
    the flow, as Metaflow's `run --help` lists them; one row saying why when the flow cannot
    be read."""
    from sfncompile.parser import parse_flow

    try:
        flow = parse_flow(flow_file, flow_name)
    except FlowErrors as exc:
        return [(str(flow_file), f"cannot list its parameters: {exc.errors[0]}")]
    except (UsageError, OSError) as exc:
        return [(str(flow_file), f"cannot list its parameters: {exc}")]
    rows = []
    for param in flow.parameters:
        if param.kind == "config":
            continue
        kind = "FILEPATH" if param.kind == "include_file" else _TYPE_NAMES.get(param.type, "TEXT")
        rows.append((f"--{param.name} {kind}", "  ".join(
            part for part in (param.help or "", _default_note(param)) if part)))
    return rows or [("(none)", "the flow has no Parameters")]


def _default_note(param: Any) -> str:
    if param.required:
        return "[required]"
    if not param.show_default:
        return ""
    if param.default_expr is not None:
        return f"[default: {param.default_expr}]"
    if param.default is None:
        return ""
    shown = json.dumps(param.default) if param.type == "json" else str(param.default)
    return f"[default: {shown}]"


class FlowParamsCommand(click.Command):
    """A command whose --help also lists the flow's Parameters (read from FLOW.py, the first
    argument that names a .py file, or from `flow_source`), as Metaflow's `run --help`."""

    flow_source: tuple[Path, str | None] | None = None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["sfncompile.args"] = list(args)
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        source = self.flow_source or _flow_in_args(ctx.meta.get("sfncompile.args", []))
        if source is not None:
            with formatter.section("Parameters of the flow (--NAME VALUE)"):
                formatter.write_dl(parameter_rows(*source))
        super().format_options(ctx, formatter)


def _flow_in_args(args: list[str]) -> tuple[Path, str | None] | None:
    files = [a for a in args if a.endswith(".py") and not a.startswith("-")]
    if not files:
        return None
    name = None
    for i, arg in enumerate(args):
        if arg == "--flow" and i + 1 < len(args):
            name = args[i + 1]
        elif arg.startswith("--flow="):
            name = arg.split("=", 1)[1]
    return Path(files[0]), name
