"""The `sfncompile` command: the top-level group, which gathers the command groups.

Each group lives in a module of its own (`*_commands.py`), imported only when one of its
commands (or the list, for --help) is asked for: `build` loads no other command's module.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from sfncompile.cli.common import EXIT_USAGE, check_streams, friendly_errors, stdout_closed

# Command name -> the module (under sfncompile.cli) that defines it; the AWS commands'
# module is loaded for any other name.
_LIGHT_COMMANDS = {
    **dict.fromkeys(["build", "graph", "validate", "diff"], "compile_commands"),
    **dict.fromkeys(["run", "resume", "show", "logs", "dump"], "run_commands"),
    **dict.fromkeys(["init", "check-goldens", "verify"], "repo_commands"),
    "card": "card_commands",
    "tag": "tag_commands",
}


class _Commands(click.Group):
    """Imports a command's module only when one of its commands (or the list) is asked for."""

    _loaded: set[str] = set()  # of main (subclasses too register on main)

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            _register(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            module = _LIGHT_COMMANDS.get(cmd_name, "aws_commands")
            if module not in self._loaded:
                self._load(module)
                command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in {*_LIGHT_COMMANDS.values(), "aws_commands"}:
            self._load(module)
        return super().list_commands(ctx)


_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Main(_Commands):
    """click's own usage errors in the same `error: ...` form as ours, and a closed stdout
    (`sfncompile build f.py | head -c1`) as an error rather than a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        check_streams()
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except _NO_ARGS as exc:  # `sfncompile` alone: the help, as click prints it
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                click.echo(f"{ctx.get_usage()}\nTry '{ctx.command_path} "
                           f"{ctx.help_option_names[0]}' for help.\n", err=True)
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            stdout_closed()
        sys.exit(code if isinstance(code, int) else 0)

@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
# The installed distribution's version (built from `sfncompile.__version__`): importing the
# root package here would close an import cycle through `python flow.py`'s hand-off to the CLI.
@click.version_option(package_name="sfncompile", prog_name="sfncompile")
def main() -> None:
    """Run Metaflow-style flows locally, or compile them to AWS Step Functions.

    \b
      sfncompile run flow.py            run every step as a local process
      sfncompile build flow.py          print the state machine (ASL)
      sfncompile graph flow.py          draw the step graph (Mermaid or dot)
    """


def _register(module: str) -> None:
    """Add the commands of `sfncompile.cli.<module>` (its COMMANDS) to `main`, each command's
    errors (a group's subcommands' too) reported by friendly_errors."""
    import importlib

    commands: list[click.Command] = importlib.import_module(f"sfncompile.cli.{module}").COMMANDS
    for command in commands:
        for sub in [command, *getattr(command, "commands", {}).values()]:
            if sub.callback is not None and not isinstance(sub, click.Group):
                sub.callback = friendly_errors(sub.callback)
        main.add_command(command)
