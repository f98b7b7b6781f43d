"""`sfncompile tag add|remove|replace|list`: a run's tags, as Metaflow's `tag` command.

User tags change; system tags (`user:<name>`, `runtime:`, ...) are listed but never change.
A run to change must be in the namespace (default: yours, `user:<name>`; `--namespace`
picks another), as in Metaflow. `python flow.py tag ...` comes here too (cli/flow_entry.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from sfncompile.errors import UsageError
from sfncompile.exception import MetaflowNotFound

HEADER = "System tags and *tags*; only *tags* can be modified"

_run_arg = click.argument("pathspec", metavar="FLOW/RUN")
_namespace = click.option(
    "--namespace", "user_namespace", metavar="NS",
    help="The namespace the run must be in (default: yours, user:<name>).")
_root = click.option(
    "--datastore-root", envvar="SFNCOMPILE_DATASTORE_ROOT", default=".sfncompile",
    show_default=True, metavar="DIR|s3://BUCKET/PREFIX",
    help="Where runs and artifacts are kept (env: SFNCOMPILE_DATASTORE_ROOT).")


@click.group()
def tag() -> None:
    """Add, remove, replace and list the tags of runs."""


@tag.command()
@_run_arg
@click.argument("tags", nargs=-1, required=True)
@_namespace
@_root
def add(pathspec: str, tags: tuple[str, ...], user_namespace: str | None,
        datastore_root: str) -> None:
    """Add user tags to a run (a tag that is a system tag already is left alone)."""
    _change(pathspec, user_namespace, datastore_root, lambda run: run.add_tags(tags))


@tag.command()
@_run_arg
@click.argument("tags", nargs=-1, required=True)
@_namespace
@_root
def remove(pathspec: str, tags: tuple[str, ...], user_namespace: str | None,
           datastore_root: str) -> None:
    """Remove user tags from a run (removing a system tag is an error)."""
    _change(pathspec, user_namespace, datastore_root, lambda run: run.remove_tags(tags))


@tag.command()
@_run_arg
@click.option("--add", "to_add", multiple=True, metavar="TAG", help="A tag to add.")
@click.option("--remove", "to_remove", multiple=True, metavar="TAG", help="A tag to remove.")
@_namespace
@_root
def replace(pathspec: str, to_add: tuple[str, ...], to_remove: tuple[str, ...],
            user_namespace: str | None, datastore_root: str) -> None:
    """Remove (--remove) and add (--add) tags in one change, the removals first."""
    if not to_remove:  # Metaflow's advice: one-sided changes have their own command
        raise UsageError("give at least one --remove TAG (only adding: use `tag add`)")
    if not to_add:
        raise UsageError("give at least one --add TAG (only removing: use `tag remove`)")
    _change(pathspec, user_namespace, datastore_root,
            lambda run: run.replace_tags(to_remove, to_add))


@tag.command("list")
@click.argument("pathspec", metavar="FLOW[/RUN]")
@click.option("--my-runs", is_flag=True,
              help="Only the runs in your namespace (default: every run of the flow).")
@click.option("--hide-system-tags", is_flag=True, help="User tags only.")
@click.option("--group-by-tag", is_flag=True, help="Each tag, with the runs that carry it.")
@click.option("--group-by-run", is_flag=True, help="Each run, with its tags.")
@click.option("--flat", is_flag=True, help="The tags alone, one a line, unmarked.")
@_root
def list_tags(pathspec: str, my_runs: bool, hide_system_tags: bool, group_by_tag: bool,
              group_by_run: bool, flat: bool, datastore_root: str) -> None:
    """List the tags of a run, or of every run of a flow; user tags are shown as *tag*."""
    if group_by_tag and group_by_run:
        raise UsageError("--group-by-tag and --group-by-run: give one")
    if flat and (group_by_tag or group_by_run):
        raise UsageError("--flat: not with a --group-by option")
    client = _client(datastore_root)
    if "/" in pathspec:
        if my_runs:
            raise UsageError("--my-runs: only with a flow, not a run")
        runs = [_existing_run(client, pathspec, None, datastore_root)]
    else:
        runs = _flow_runs(client, pathspec, my_runs, datastore_root)
    groups = _groups(runs, hide_system_tags, group_by_tag, group_by_run)
    if flat:
        for name in sorted({t for tags, _ in groups.values() for t in tags}):
            click.echo(name)
        return
    _print_groups(groups, by_tag=group_by_tag)


# -- finding the runs -------------------------------------------------------------------------


def _client(datastore_root: str) -> Any:
    from sfncompile import client
    from sfncompile.cli.common import check_datastore_root

    client.set_datastore_root(check_datastore_root(datastore_root, write=False))
    return client


def _existing_run(client: Any, pathspec: str, ns: str | None, datastore_root: str) -> Any:
    """The run `pathspec` names, read in namespace `ns`; UsageError when it does not exist
    or is outside the namespace."""
    from sfncompile.cli.run_commands import _split_run

    _split_run(pathspec)
    client.namespace(None)
    try:
        client.Run(pathspec)
    except MetaflowNotFound:  # neither a run record nor a task
        raise UsageError(f"no run {pathspec} under {datastore_root}") from None
    client.namespace(ns)
    try:
        return client.Run(pathspec)
    except client.MetaflowNamespaceMismatch:
        raise UsageError(f"run {pathspec} is not in namespace {ns} (give another with "
                         "--namespace)") from None


def _flow_runs(client: Any, flow: str, mine: bool, datastore_root: str) -> list[Any]:
    from sfncompile.cli.run_commands import _check_part

    _check_part(flow, "flow name", identifier=True)
    ns = client.default_namespace() if mine else client.namespace(None)
    try:
        runs: list[Any] = client.Flow(flow).runs()
    except (MetaflowNotFound, client.MetaflowNamespaceMismatch):  # no run here, or none in ns
        runs = []
    if not runs:
        where = f" in namespace {ns}" if ns else ""
        raise UsageError(f"no run of {flow}{where} under {datastore_root}")
    return runs


def _change(pathspec: str, ns: str | None, datastore_root: str,
            change: Callable[[Any], None]) -> None:
    from sfncompile.exception import MetaflowTaggingError
    from sfncompile.flow.current import resolve_identity

    client = _client(datastore_root)
    ns = ns or resolve_identity()
    if "/" not in pathspec:
        raise UsageError(_which_run(client, pathspec, ns, datastore_root))
    run = _existing_run(client, pathspec, ns, datastore_root)
    try:
        change(run)
    except MetaflowTaggingError as exc:
        from sfncompile.client.tags import TagConflict

        click.echo(f"error: {exc}", err=True)
        sys.exit(1 if isinstance(exc, TagConflict) else 2)
    click.echo("Operation successful. New tags:")
    _print_groups(_groups([run], False, False, False), by_tag=False)


def _which_run(client: Any, flow: str, ns: str | None, datastore_root: str) -> str:
    """Metaflow's hint when no run id is given: the flow's latest run in the namespace."""
    from sfncompile.cli.run_commands import _check_part

    _check_part(flow, "flow name", identifier=True)
    client.namespace(ns)
    try:
        latest = client.Flow(flow).latest_run
    except (MetaflowNotFound, client.MetaflowNamespaceMismatch):
        latest = None
    ask = f"which run? name it as {flow}/RUN-ID (python flow.py tag: --run-id RUN-ID)"
    where = f" in namespace {ns}" if ns else ""
    if latest is None:
        return f"{ask}; {flow} has no run{where} under {datastore_root}"
    return f"{ask}; {flow}'s latest run{where} is {latest.pathspec}"


# -- printing ---------------------------------------------------------------------------------

# A group ("run F/R", "3 runs of F") -> (its tags, the system ones among them); for
# --group-by-tag, a tag -> (the runs that carry it, those where it is a system tag).
Groups = dict[str, tuple[set[str], set[str]]]


def _groups(runs: Iterable[Any], hide_system: bool, by_tag: bool, by_run: bool) -> Groups:
    groups: Groups = {}
    runs = list(runs)
    for run in runs:
        user, system = run.user_tags, set() if hide_system else run.system_tags
        if by_tag:
            for name in user | system:
                found = groups.setdefault(name, (set(), set()))
                found[0].add(run.pathspec)
                if name in system:
                    found[1].add(run.pathspec)
            continue
        key = f"run {run.pathspec}" if by_run else _runs_name(runs)
        tags, sys_tags = groups.setdefault(key, (set(), set()))
        tags.update(user | system)
        sys_tags.update(system)
    return groups


def _runs_name(runs: list[Any]) -> str:
    if len(runs) == 1:
        return f"run {runs[0].pathspec}"
    return f"{len(runs)} runs of {runs[0].flow}"


def _print_groups(groups: Groups, by_tag: bool) -> None:
    click.echo(f"{HEADER}\n")
    for name in sorted(groups):
        members, system = groups[name]
        if by_tag:
            click.echo(f"For tag {name if system else f'*{name}*'}")
            lines = sorted(members)
        else:
            click.echo(f"For {name}")
            lines = sorted(t if t in system else f"*{t}*" for t in members)
        for line in lines:
            click.echo(f"    {line}")
        click.echo()


COMMANDS = [tag]
