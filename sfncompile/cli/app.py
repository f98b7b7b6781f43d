"""The `sfncompile` command: the top-level group, which gathers the command groups.

Each group lives in a module of its own (`*_commands.py`). The AWS commands are registered
only when one of them (or the list) is asked for, since their module imports more.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from sfncompile.cli.common import EXIT_USAGE, check_streams, friendly_errors, stdout_closed


class _Commands(click.Group):
    """Imports the AWS commands' module only when one of them (or the list) is asked for."""

    _aws_loaded = False

    def _load_aws(self) -> None:
        if not self._aws_loaded:
            type(self)._aws_loaded = True
            _register_aws_commands()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._aws_loaded:
            self._load_aws()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_aws()
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
@click.version_option(package_name="sfncompile")
def main() -> None:
    """Run Metaflow-style flows locally, or compile them to AWS Step Functions.

    \b
      sfncompile run flow.py            run every step as a local process
      sfncompile build flow.py          print the state machine (ASL)
      sfncompile graph flow.py          draw the step graph (Mermaid or dot)
    """


def _register_aws_commands() -> None:
    from sfncompile.cli.aws_commands import COMMANDS

    for command in COMMANDS:
        for sub in [command, *getattr(command, "commands", {}).values()]:
            if sub.callback is not None and not isinstance(sub, click.Group):
                sub.callback = friendly_errors(sub.callback)
        main.add_command(command)


def _register_light_commands() -> None:
    """Commands whose modules import only click at the top: registered at once."""
    from sfncompile.cli import compile_commands, repo_commands, run_commands
    from sfncompile.cli.card_commands import card_commands
    from sfncompile.cli.tag_commands import tag_commands

    for module in (compile_commands, run_commands, repo_commands):
        for command in module.COMMANDS:
            if command.callback is not None:
                command.callback = friendly_errors(command.callback)
            main.add_command(command)
    main.add_command(card_commands(friendly_errors))
    main.add_command(tag_commands(friendly_errors))


_register_light_commands()
