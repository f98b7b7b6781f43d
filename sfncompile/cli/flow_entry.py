"""`python flow.py ...`: Metaflow's command line on sfncompile's commands.

A flow file whose `__main__` guard calls `MyFlow()` takes Metaflow's spelling, and each
command becomes the `sfncompile` command that does the same thing (nothing is done twice):

    python flow.py [--with DECO[:K=V,...]]... [--datastore-root ROOT] [--datastore local|s3]
                   [--branch B] [--production] [--config NAME PATH]...
                   [--config-value NAME VALUE]... [Metaflow's other top-level options] COMMAND ...
      run [--PARAM VALUE]... [--tag T]... [--max-workers N]     sfncompile run (--help lists
                                                                  the Parameters)
          [--run-id-file PATH] [--max-num-splits N]
      resume [STEP] [--origin-run-id ID] [--tag T]...           sfncompile resume (default:
                                                                  the flow's latest run)
      show                                                      the steps, as Metaflow shows them
      check [--warnings]                                        the flow parsed and checked
      dump RUN/STEP[/TASK] [--include N,...] [--file PATH]      sfncompile dump
      logs RUN/STEP[/TASK] [--stdout|--stderr]                  sfncompile logs
      card get|view|list [RUN/]STEP[/TASK] [--id ID]            sfncompile card (STEP alone:
                                                                  of the latest run)
      tag add|remove [--run-id ID] [--namespace NS] TAG...      sfncompile tag add|remove
      tag replace [--run-id ID] --remove T... --add T...        sfncompile tag replace
      tag list [--run-id ID|ID] [--all|--my-runs] ...           sfncompile tag list
      step-functions [--name NAME] create [--only-json]         sfncompile deploy (--only-json:
          [--tag T]... [--namespace NS] [--max-workers N]          the ASL, no AWS call)
          [--workflow-timeout S] [--use-distributed-map]
          [--resource-tag K=V]... [--log-execution-history]
      step-functions [--name NAME] trigger [--PARAM VALUE]...   sfncompile trigger
      step-functions [--name NAME] list-runs                    sfncompile status
      step-functions [--name NAME] delete                       sfncompile delete

sfncompile's own commands that take FLOW.py (build, graph, deploy, trigger, status) work too:
`python flow.py build -o flow.json`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sfncompile.cli.common import (
    FlowParamsCommand,
    Pairs,
    config_file_option,
    config_value_option,
)

# Metaflow options with no meaning here that scripts pass out of habit: accepted, ignored.
_IGNORED_FLAGS = ("--quiet/--not-quiet", "--pylint/--no-pylint",
                  "--force-rebuild-environments/--no-force-rebuild-environments")
# Metaflow's top-level options that choose a backend: Metaflow's choices, and for each choice
# sfncompile has no counterpart of, why (None: accepted, nothing to choose).
_BACKENDS: dict[str, dict[str, str | None]] = {
    "metadata": {"local": None, "service": "sfncompile has no metadata service: a run's "
                 "metadata is kept in its datastore (--metadata=local)",
                 "spin": "sfncompile has no spin mode"},
    "datastore": {"local": None, "s3": None, **{
        name: "sfncompile keeps runs on local disk or in S3 (--datastore=local, or s3 with "
              "--datastore-root s3://BUCKET/PREFIX)" for name in ("azure", "gs", "spin")}},
    # @pypi/@conda mean the same with any of them: no environment is built, the packages
    # must be importable (the README's decorator table).
    "environment": {"local": None, "uv": None, "pypi": None, "conda": None},
    "event_logger": {"debugLogger": None, "nullSidecarLogger": None},
    "monitor": {"debugMonitor": None, "nullSidecarMonitor": None},
    "mode": {"spin": "sfncompile has no spin mode: `sfncompile resume Flow/RUN --from STEP` "
                     "runs a step again"},
}
# sfncompile commands whose first argument is FLOW.py, reachable as `python flow.py CMD`.
_FILE_COMMANDS = ("build", "graph", "deploy", "trigger", "status")
# Commands that accept --with.
_WITH_COMMANDS = ("build", "deploy", "run", "resume")
# Commands that take the top-level --config/--config-value (resume keeps the origin run's).
_CONFIG_COMMANDS = ("build", "deploy", "graph", "run")


class _Flow:
    """The flow this command line belongs to, and the top-level options given."""

    def __init__(self, cls: type, flow_file: Path) -> None:
        self.name = cls.__name__
        self.file = flow_file
        self.decospecs: tuple[str, ...] = ()
        self.configs: list[str] = []  # --config/--config-value, for the commands that build
        self.config_pairs: tuple[Pairs, Pairs] = ((), ())  # the same, as (files, values)
        self.root: str | None = None
        self.has_project = "project" in (getattr(cls, "sfn_decorators", None) or {})
        from sfncompile.flow.api import Parameter

        # Parameter name on the command line -> its class attribute, in definition order.
        self.params = {getattr(cls, attr).name: attr for attr in dir(cls)
                       if attr[0] != "_" and isinstance(getattr(cls, attr, None), Parameter)}

    def sfncompile(self, command: str, *args: str) -> None:
        """Run `sfncompile COMMAND FLOW.py --flow NAME ARGS...` (it exits)."""
        self.call(command, str(self.file), "--flow", self.name, *args)

    def call(self, command: str, *args: str) -> None:
        from sfncompile.cli import main

        extra: list[str] = []
        if command in _WITH_COMMANDS:
            for spec in self.decospecs:
                extra += ["--with", spec]
        if self.root and command in ("run", "resume"):
            extra += ["--datastore-root", self.root]
        if command in _CONFIG_COMMANDS:
            extra += self.configs
        main([command, *args, *extra], prog_name="sfncompile")


def _params_args(flow: _Flow, values: dict[str, Any]) -> list[str]:
    args = []
    for name in flow.params:
        value = values.get(_option_key(name))
        if value is not None:
            args += ["--param", f"{name}={value}"]
    return args


def _option_key(name: str) -> str:
    return "param_" + name.replace("-", "_").lower()


def _param_options(flow: _Flow) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Metaflow's `--NAME VALUE` for every Parameter; values are checked by sfncompile."""

    def add(func: Callable[..., None]) -> Callable[..., None]:
        for name in reversed(list(flow.params)):
            # Listed with their help, type and default by FlowParamsCommand.
            func = click.option(f"--{name}", _option_key(name), metavar="VALUE",
                                hidden=True)(func)
        return func

    return add


def make_cli(cls: type, flow_file: Path) -> click.Group:
    from sfncompile.cli.app import _Main

    flow = _Flow(cls, flow_file)

    class Group(_Main):  # sfncompile's `error: ...` form for usage errors, and exit codes
        def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
            command = click.Group.get_command(self, ctx, name)
            if command is None and name in _FILE_COMMANDS:
                return _passthrough(flow, name)
            return command

        def list_commands(self, ctx: click.Context) -> list[str]:
            return click.Group.list_commands(self, ctx)

    @click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]},
                 help=f"Metaflow's command line for {flow.name}, run by sfncompile. "
                      f"sfncompile's {', '.join(_FILE_COMMANDS)} work on this file too.")
    @click.option("--with", "decospecs", multiple=True, metavar="DECO[:K=V,...]",
                  help="Add a step decorator to every step that lacks it (repeatable).")
    @click.option("--datastore-root", metavar="DIR|s3://BUCKET/PREFIX",
                  help="Where runs are kept (default: sfncompile's, .sfncompile).")
    @click.option("--branch", metavar="NAME",
                  help="@project: the branch test.NAME (prod.NAME with --production); "
                       "default: METAFLOW_BRANCH, else your user branch.")
    @click.option("--production", is_flag=True,
                  help="@project: the production branch (default: METAFLOW_PRODUCTION).")
    @_backend_options
    @click.option("--package-suffixes", metavar="SUFFIXES",
                  help="Accepted, ignored: the code package holds the flow's whole directory.")
    @config_file_option
    @config_value_option
    @click.option(_IGNORED_FLAGS[0], default=False, help="Accepted, ignored.")
    @click.option(_IGNORED_FLAGS[1], default=True, help="Accepted, ignored.")
    @click.option(_IGNORED_FLAGS[2], default=False, hidden=True)
    def group(decospecs: tuple[str, ...], datastore_root: str | None, branch: str | None,
              production: bool, config_files: Pairs, config_values: Pairs,
              **backends: Any) -> None:
        flow.decospecs = decospecs
        flow.configs = [arg for option, pairs in (("--config", config_files),
                                                  ("--config-value", config_values))
                        for pair in pairs for arg in (option, *pair)]
        flow.config_pairs = (config_files, config_values)
        flow.root = _datastore_root(backends.get("datastore"), datastore_root)
        for option, choices in _BACKENDS.items():
            why = choices.get(backends.get(option) or "")
            if why:
                raise click.UsageError(f"--{option.replace('_', '-')}={backends[option]}: "
                                       f"{why}")
        _set_project_options(flow, branch, production)

    @group.command(cls=FlowParamsCommand, help="Run the flow locally (sfncompile run).")
    @click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag the run.")
    @click.option("--max-workers", type=int, help="Tasks run in parallel at most.")
    @click.option("--with", "decospecs", multiple=True, metavar="DECO[:K=V,...]",
                  help="Add a step decorator to every step that lacks it.")
    @click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE",
                  help="sfncompile's spelling of a parameter.")
    @_run_options
    @_param_options(flow)
    def run(tags: tuple[str, ...], max_workers: int | None, decospecs: tuple[str, ...],
            pairs: tuple[str, ...], run_id_file: str | None, max_num_splits: int | None,
            **values: Any) -> None:
        args = _params_args(flow, values)
        for pair in pairs:
            args += ["--param", pair]
        flow.decospecs += decospecs
        flow.sfncompile("run", *args, *_common(tags, max_workers),
                        *_run_args(run_id_file, max_num_splits))

    @group.command(help="Resume a run (default: the latest) from STEP or from where it "
                        "failed (sfncompile resume).")
    @click.argument("step", required=False)
    @click.option("--origin-run-id", metavar="ID", help="The run to resume.")
    @click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag the new run.")
    @click.option("--max-workers", type=int, help="Tasks run in parallel at most.")
    @_run_options
    def resume(step: str | None, origin_run_id: str | None, tags: tuple[str, ...],
               max_workers: int | None, run_id_file: str | None,
               max_num_splits: int | None) -> None:
        # This file, as Metaflow resumes with the current code (and a run on Step Functions
        # records no flow file); without --origin-run-id, the flow's latest run.
        if flow.configs:
            raise click.UsageError("--config/--config-value: not with resume (a resumed run "
                                   "keeps the origin run's Configs, as in Metaflow)")
        args = [*_common(tags, max_workers), *_run_args(run_id_file, max_num_splits)]
        if origin_run_id is not None:
            args += ["--origin-run-id", origin_run_id]
        if step:
            args += ["--from", step]
        flow.sfncompile("resume", *args)

    @group.command(help="Show the steps of the flow.")
    def show() -> None:
        from sfncompile.cli.common import friendly_errors, load_flow

        def describe() -> list[tuple[str, bool]]:
            return _describe(load_flow(flow.file, flow.name, (), _configs(flow)))

        for line, err in friendly_errors(describe)():
            click.echo(line, err=err)

    @group.command(help="Check that the flow is valid (its graph, its decorators' "
                        "arguments), as sfncompile build does, without building it.")
    @click.option("--warnings/--no-warnings", default=False, help="Accepted, ignored "
                  "(Metaflow's Pylint warnings: sfncompile runs no linter).")
    def check(warnings: bool) -> None:
        from sfncompile.cli.common import friendly_errors, load_flow

        click.echo("Validating your flow...", err=True)
        friendly_errors(lambda: load_flow(flow.file, flow.name, flow.decospecs,
                                          _configs(flow)))()
        click.echo("    The graph looks good!", err=True)

    @group.command(help="Print the artifacts of a task, or of every task of a step: "
                        "RUN/STEP[/TASK] (sfncompile dump).")
    @click.argument("input_path", metavar="RUN/STEP[/TASK]")
    @click.option("--private/--no-private", default=False, help="Also private artifacts.")
    @click.option("--max-value-size", type=click.IntRange(min=0), default=1000,
                  show_default=True, help="Show only values at most this size (0: names).")
    @click.option("--include", default="", metavar="NAMES", help="Only these artifacts "
                                                                 "(comma-separated).")
    @click.option("--file", "out_file", metavar="PATH", help="Write them to PATH (pickled).")
    def dump(input_path: str, private: bool, max_value_size: int, include: str,
             out_file: str | None) -> None:
        if input_path.count("/") not in (1, 2):
            raise click.UsageError(f"{input_path!r}: give RUN/STEP or RUN/STEP/TASK")
        args = ["--private"] if private else []
        args += ["--max-value-size", str(max_value_size), "--include", include]
        flow.call("dump", f"{flow.name}/{input_path}", *args,
                  *(["--file", out_file] if out_file else []), *_root_args(flow))

    @group.command(help="Print what a task, or every task of a step, wrote to stdout and "
                        "stderr: RUN/STEP[/TASK] (sfncompile logs).")
    @click.argument("input_path", metavar="RUN/STEP[/TASK]")
    @click.option("--stdout/--no-stdout", "want_stdout", default=False, help="Only stdout.")
    @click.option("--stderr/--no-stderr", "want_stderr", default=False, help="Only stderr.")
    @click.option("--both/--no-both", default=True, help="Both (the default).")
    @click.option("--timestamps/--no-timestamps", default=False,
                  help="Refused: sfncompile keeps no time per log line.")
    @click.option("--attempt", type=click.IntRange(min=0), help="Refused: the last attempt's "
                  "log is kept (sfncompile logs).")
    def logs(input_path: str, want_stdout: bool, want_stderr: bool, both: bool,
             timestamps: bool, attempt: int | None) -> None:
        if input_path.count("/") not in (1, 2):
            raise click.UsageError(f"{input_path!r}: give RUN/STEP or RUN/STEP/TASK")
        if timestamps or attempt is not None:
            raise click.UsageError("--timestamps/--attempt: sfncompile keeps the last "
                                   "attempt's log, without a time per line")
        stream = [] if want_stdout == want_stderr else [
            "--stdout" if want_stdout else "--stderr"]
        flow.call("logs", f"{flow.name}/{input_path}", *stream, *_root_args(flow))

    run.flow_source = (flow.file, flow.name)  # type: ignore[attr-defined]
    group.add_command(_step_functions(flow))
    group.add_command(_tag(flow))
    group.add_command(_card(flow))
    return group


def _configs(flow: _Flow) -> dict[str, tuple[str, str]]:
    """The Configs given to this command line (options, else Metaflow's variables)."""
    from sfncompile.cli.common import given_configs

    return given_configs(*flow.config_pairs)


def _root_args(flow: _Flow) -> list[str]:
    return ["--datastore-root", flow.root] if flow.root else []


def _card(flow: _Flow) -> click.Group:
    """Metaflow's `card get|view|list PATHSPEC`: STEP (of the latest run), RUN/STEP or
    RUN/STEP/TASK, on `sfncompile card`."""

    def call(command: str, pathspec: str, *args: str) -> None:
        parts = pathspec.split("/")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise click.UsageError(f"{pathspec!r}: give STEP, RUN/STEP or RUN/STEP/TASK")
        if len(parts) == 1:
            from sfncompile.cli.common import friendly_errors
            from sfncompile.cli.run_commands import latest_run_id

            root = flow.root or os.environ.get("SFNCOMPILE_DATASTORE_ROOT", ".sfncompile")
            parts.insert(0, friendly_errors(latest_run_id)(flow.name, root))
        flow.call("card", command, f"{flow.name}/{'/'.join(parts)}", *args, *_root_args(flow))

    def choice(card_id: str | None, card_type: str | None) -> list[str]:
        return [*(["--id", card_id] if card_id else []),
                *(["--type", card_type] if card_type else [])]

    @click.group(name="card", help="Read the cards of the flow's tasks (sfncompile card).")
    def card() -> None:
        pass

    @card.command(help="Print a task's card, or write it to PATH.")
    @click.argument("pathspec", metavar="[RUN/]STEP[/TASK]")
    @click.argument("path", required=False)
    @click.option("--id", "card_id", metavar="ID", help="The card with this id.")
    @click.option("--type", "card_type", metavar="TYPE", help="A card of this type.")
    def get(pathspec: str, path: str | None, card_id: str | None,
            card_type: str | None) -> None:
        call("get", pathspec, *([path] if path else []), *choice(card_id, card_type))

    @card.command(help="Open a task's card in a browser (or print its file).")
    @click.argument("pathspec", metavar="[RUN/]STEP[/TASK]")
    @click.option("--id", "card_id", metavar="ID", help="The card with this id.")
    @click.option("--type", "card_type", metavar="TYPE", help="A card of this type.")
    def view(pathspec: str, card_id: str | None, card_type: str | None) -> None:
        call("view", pathspec, *choice(card_id, card_type))

    @card.command(name="list", help="List a task's cards.")
    @click.argument("pathspec", metavar="[RUN/]STEP[/TASK]")
    def list_cards(pathspec: str) -> None:
        call("list", pathspec)

    return card


def _backend_options(func: Callable[..., None]) -> Callable[..., None]:
    """--metadata, --datastore, --environment, --event-logger, --monitor and --mode, with
    Metaflow's choices; the group refuses those sfncompile has nothing for."""
    helps = {"metadata": "local: a run's metadata is kept in its datastore (service and "
                         "spin are refused).",
             "datastore": "local (default) or s3 (with an s3:// --datastore-root).",
             "environment": "Accepted: @pypi/@conda mean the same with any.",
             "mode": "Metaflow's spin mode: refused."}
    for option in reversed(_BACKENDS):
        func = click.option(f"--{option.replace('_', '-')}", option,
                            type=click.Choice(list(_BACKENDS[option])),
                            help=helps.get(option, "Accepted: nothing to choose here."))(func)
    return func


def _datastore_root(datastore: str | None, root: str | None) -> str | None:
    """--datastore-root, checked against --datastore: s3 needs an s3:// root (given, or in
    SFNCOMPILE_DATASTORE_ROOT), local a directory."""
    effective = root or os.environ.get("SFNCOMPILE_DATASTORE_ROOT") or ""
    if datastore == "s3" and not effective.startswith("s3://"):
        raise click.UsageError("--datastore=s3: give the bucket as --datastore-root "
                               "s3://BUCKET/PREFIX (or SFNCOMPILE_DATASTORE_ROOT)")
    if datastore == "local" and root and root.startswith("s3://"):
        raise click.UsageError(f"--datastore=local: --datastore-root {root} is on S3 (give "
                               "--datastore=s3, or a directory)")
    return root


def _set_project_options(flow: _Flow, branch: str | None, production: bool) -> None:
    """--branch/--production of a @project flow, handed on as METAFLOW_BRANCH and
    METAFLOW_PRODUCTION, which every sfncompile command (run, deploy, trigger) and the run's
    tasks read, as Metaflow hands its options on to every task."""
    if (branch is not None or production) and not flow.has_project:
        raise click.UsageError(f"--branch/--production: flow {flow.name} has no @project")
    if branch is not None:
        os.environ["METAFLOW_BRANCH"] = branch
    if production:
        os.environ["METAFLOW_PRODUCTION"] = "true"


def _run_options(func: Callable[..., None]) -> Callable[..., None]:
    func = click.option("--max-num-splits", type=click.IntRange(min=1), metavar="N",
                        help="Fail the run when a foreach has more than N items.")(func)
    return click.option("--run-id-file", metavar="PATH",
                        help="Write the run's id to PATH as soon as it starts.")(func)


def _run_args(run_id_file: str | None, max_num_splits: int | None) -> list[str]:
    args = ["--run-id-file", run_id_file] if run_id_file else []
    return args + (["--max-num-splits", str(max_num_splits)] if max_num_splits else [])


def _common(tags: tuple[str, ...], max_workers: int | None) -> list[str]:
    args = []
    for tag in tags:
        args += ["--tag", tag]
    if max_workers is not None:
        args += ["--max-workers", str(max_workers)]
    return args


def _passthrough(flow: _Flow, name: str) -> click.Command:
    @click.command(name=name, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.pass_context
    def command(ctx: click.Context) -> None:
        flow.sfncompile(name, *ctx.args)

    return command


def _describe(flow: Any) -> list[tuple[str, bool]]:
    """Metaflow's `show`: the flow's docstring, then each step's decorators, name, docstring
    and next steps; each line with whether it goes to stderr (the docstring and the blank
    lines, as Metaflow prints them)."""
    lines = [(f"\n{flow.doc or ''}", True)]
    for step in flow.analysis.ordered:
        lines.append(("", True))
        lines += [(f"@{name}", False) for name in _decorator_names(step.policies)]
        lines.append((f"Step {step.name}", False))
        lines.append((f"    {step.doc or '?'}", False))
        if step.kind != "end":
            lines.append((f"    => {', '.join(dict.fromkeys(step.targets))}", False))
    return [*lines, ("", True)]


def _decorator_names(policies: Any) -> list[str]:
    present = [("retry", policies.retry is not None), ("catch", policies.catch is not None),
               ("timeout", policies.timeout_seconds is not None),
               ("environment", bool(policies.environment))]
    return [name for name, on in present if on]


_run_id = click.option("--run-id", metavar="ID", help="The run (required to change tags).")
_namespace = click.option("--namespace", "user_namespace", metavar="NS",
                          help="The namespace the run must be in (default: yours).")


def _tag(flow: _Flow) -> click.Group:
    """Metaflow's `tag` command: `sfncompile tag` on this flow's runs."""

    def call(command: str, run_id: str | None, options: list[str],
             tags: tuple[str, ...] = ()) -> None:
        if run_id is not None and (not run_id or "/" in run_id):
            raise click.UsageError(f"--run-id {run_id!r} is not a run id")
        root = ["--datastore-root", flow.root] if flow.root else []
        pathspec = f"{flow.name}/{run_id}" if run_id else flow.name
        # After `--`, a tag that starts with `-` is still a tag.
        flow.call("tag", command, *root, *options, "--", pathspec, *tags)

    def namespace(user_namespace: str | None) -> list[str]:
        return ["--namespace", user_namespace] if user_namespace else []

    @click.group(name="tag", help="Add, remove, replace or list the tags of the flow's runs "
                                  "(sfncompile tag).")
    def tag() -> None:
        pass

    @tag.command(help="Add tags to a run.")
    @_run_id
    @_namespace
    @click.argument("tags", nargs=-1, required=True)
    def add(run_id: str | None, user_namespace: str | None, tags: tuple[str, ...]) -> None:
        call("add", run_id, namespace(user_namespace), tags)

    @tag.command(help="Remove tags from a run.")
    @_run_id
    @_namespace
    @click.argument("tags", nargs=-1, required=True)
    def remove(run_id: str | None, user_namespace: str | None, tags: tuple[str, ...]) -> None:
        call("remove", run_id, namespace(user_namespace), tags)

    @tag.command(help="Remove (--remove) and add (--add) tags of a run in one change.")
    @_run_id
    @_namespace
    @click.option("--add", "to_add", multiple=True, metavar="TAG", help="A tag to add.")
    @click.option("--remove", "to_remove", multiple=True, metavar="TAG",
                  help="A tag to remove.")
    def replace(run_id: str | None, user_namespace: str | None, to_add: tuple[str, ...],
                to_remove: tuple[str, ...]) -> None:
        args = [f"--add={t}" for t in to_add] + [f"--remove={t}" for t in to_remove]
        call("replace", run_id, [*namespace(user_namespace), *args])

    @tag.command(name="list", help="List the tags of a run, or of the flow's runs.")
    @_run_id
    @click.option("--all", "list_all", is_flag=True, help="Every run of the flow (the "
                                                          "default without a run).")
    @click.option("--my-runs", is_flag=True, help="The runs in your namespace.")
    @click.option("--hide-system-tags", is_flag=True, help="User tags only.")
    @click.option("--group-by-tag", is_flag=True, help="Each tag, with its runs.")
    @click.option("--group-by-run", is_flag=True, help="Each run, with its tags.")
    @click.option("--flat", is_flag=True, hidden=True)
    @click.argument("arg_run_id", metavar="[RUN_ID]", required=False)
    def list_tags(run_id: str | None, list_all: bool, my_runs: bool, hide_system_tags: bool,
                  group_by_tag: bool, group_by_run: bool, flat: bool,
                  arg_run_id: str | None) -> None:
        if list_all and my_runs:
            raise click.UsageError("--all and --my-runs: give one")
        if run_id is not None and arg_run_id is not None:
            raise click.UsageError("give the run as --run-id ID or as ID, not both")
        flags = [name for name, on in (("--my-runs", my_runs),
                                       ("--hide-system-tags", hide_system_tags),
                                       ("--group-by-tag", group_by_tag),
                                       ("--group-by-run", group_by_run),
                                       ("--flat", flat)) if on]
        chosen = None if list_all or my_runs else (run_id or arg_run_id)
        call("list", chosen, flags)

    return tag


def _step_functions(flow: _Flow) -> click.Group:
    @click.group(name="step-functions", help="Deploy and operate the flow on AWS Step "
                                             "Functions (sfncompile deploy, trigger, status, "
                                             "delete).")
    @click.option("--name", metavar="NAME", help="The state machine's name.")
    @click.pass_context
    def sfn(ctx: click.Context, name: str | None) -> None:
        ctx.obj = name

    def target(ctx: click.Context) -> list[str]:
        name = ctx.obj
        return [name] if name else [str(flow.file), "--flow", flow.name]

    @sfn.command(help="Deploy the flow (sfncompile deploy; with --only-json, print the "
                      "state machine's ASL and make no AWS call).")
    @click.option("--only-json", is_flag=True, help="Print the state machine, deploy nothing.")
    @click.option("--tag", "tags", multiple=True, metavar="TAG",
                  help="A tag of every run of the deployment (Metaflow's run tags).")
    @click.option("--resource-tag", "resource_tags", multiple=True, metavar="KEY=VALUE",
                  help="A tag for every AWS resource (sfncompile deploy --tag).")
    @click.option("--namespace", "user_namespace", metavar="NS",
                  help="The namespace of the deployment's runs.")
    @click.option("--max-workers", type=click.IntRange(min=1),
                  help="MaxConcurrency of every foreach that does not set its own.")
    @click.option("--workflow-timeout", type=click.IntRange(min=1), metavar="SECONDS",
                  help="The execution's timeout (the state machine's TimeoutSeconds).")
    @click.option("--log-execution-history", is_flag=True,
                  help="Send every execution's history to the log_group setting's "
                       "CloudWatch Logs log group.")
    @click.option("--use-distributed-map/--use-inline-map", default=False,
                  help="Every foreach as a Distributed Map (default: inline).")
    @click.option("--authorize", metavar="TOKEN", hidden=True)  # Metaflow's; nothing to do
    @click.option("--generate-new-token", is_flag=True, hidden=True)
    @click.option("--given-token", metavar="TOKEN", hidden=True)
    @click.pass_context
    def create(ctx: click.Context, only_json: bool, tags: tuple[str, ...],
               resource_tags: tuple[str, ...], user_namespace: str | None,
               max_workers: int | None, workflow_timeout: int | None,
               log_execution_history: bool, use_distributed_map: bool, authorize: str | None,
               generate_new_token: bool, given_token: str | None) -> None:
        if generate_new_token or given_token:
            raise click.UsageError("--generate-new-token/--given-token: sfncompile has no "
                                   "production tokens; --namespace NS sets the runs' namespace")
        if only_json:
            from sfncompile.cli.common import friendly_errors

            friendly_errors(_only_json)(flow, tags, user_namespace, max_workers,
                                        workflow_timeout, use_distributed_map)
            return
        args = _common((), max_workers)
        for tag in tags:
            args += ["--run-tag", tag]
        for pair in resource_tags:
            args += ["--tag", pair]
        if user_namespace:
            args += ["--namespace", user_namespace]
        if workflow_timeout is not None:
            args += ["--workflow-timeout", str(workflow_timeout)]
        if log_execution_history:
            args.append("--log-execution-history")
        if use_distributed_map:
            args.append("--use-distributed-map")
        if ctx.obj:
            args += ["--name", ctx.obj]
        flow.sfncompile("deploy", *args)

    @sfn.command(cls=FlowParamsCommand,
                 help="Start a run of the deployed flow (sfncompile trigger).")
    @_param_options(flow)
    @click.pass_context
    def trigger(ctx: click.Context, /, **values: Any) -> None:
        flow.call("trigger", *target(ctx), *_params_args(flow, values))

    trigger.flow_source = (flow.file, flow.name)  # type: ignore[attr-defined]

    @sfn.command(name="list-runs", help="List the deployed flow's runs (sfncompile status).")
    @click.pass_context
    def list_runs(ctx: click.Context) -> None:
        flow.call("status", *target(ctx))

    @sfn.command(help="Remove the deployed flow (sfncompile delete).")
    @click.pass_context
    def delete(ctx: click.Context) -> None:
        from sfncompile.cli.common import friendly_errors

        flow.call("delete", ctx.obj or friendly_errors(_machine_name)(flow), "--yes")

    return sfn


def _only_json(flow: _Flow, tags: tuple[str, ...], user_namespace: str | None,
               max_workers: int | None, workflow_timeout: int | None,
               use_distributed_map: bool) -> None:
    """`step-functions create --only-json`: the ASL that the deploy would create, with the
    options that change it, and no AWS call (the logging configuration is not part of it)."""
    from sfncompile.deploy.python_api import Deployer

    files, values = flow.config_pairs
    deployer = Deployer(str(flow.file), show_output=False, flow=flow.name,
                        with_=list(flow.decospecs), config=list(files),
                        config_value=list(values)).step_functions()
    deployer.create(only_json=True, tags=list(tags), user_namespace=user_namespace,
                    max_workers=max_workers, workflow_timeout=workflow_timeout,
                    use_distributed_map=use_distributed_map)


def _machine_name(flow: _Flow) -> str:
    """The name `deploy` gives the flow's state machine (prefix + flow name)."""
    from sfncompile.cli.aws_commands import _config, _target_name

    name, _ = _target_name(str(flow.file), flow.name, _config(flow.file.parent, {}))
    return name


def main(cls: type, flow_file: str, argv: list[str]) -> None:
    """Run Metaflow's command line for the flow class `cls` defined in `flow_file` (exits)."""
    make_cli(cls, Path(flow_file)).main(argv, prog_name=os.path.basename(flow_file))
