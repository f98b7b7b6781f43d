"""The AWS commands of the CLI: deploy, trigger, status, redrive, delete, config show,
`event publish` (Metaflow's `ArgoEvent(NAME).publish(payload)`), and `dev-aws`, which serves
them all on this machine.

boto3 is imported only when one of them runs, so `build` and `run` never load it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from sfncompile.cli.common import (
    CONFIGS_AT_DEPLOY,
    Pairs,
    config_file_option,
    config_value_option,
    given_configs,
    load_flow,
)
from sfncompile.deploy.config import NAMES, SETTINGS, Config, load_config, parse_tags
from sfncompile.errors import UsageError


def _setting_options(func: Any) -> Any:
    for s in reversed(SETTINGS):
        if s.name == "tags":
            continue
        func = click.option(f"--{s.name.replace('_', '-')}", s.name, metavar="VALUE",
                            help=f"{s.help[0].upper()}{s.help[1:]}.")(func)
    return func


def _config(where: Path, settings: dict[str, Any], tags: tuple[str, ...] = ()) -> Config:
    flags = {k: v for k, v in settings.items() if k in NAMES}
    if tags:
        flags["tags"] = parse_tags(",".join(tags), "--tag")
    config = load_config(where, flags)
    if tags:  # --tag adds to the configured tags rather than replacing them
        below = load_config(where, {k: v for k, v in flags.items() if k != "tags"})
        config.values["tags"] = {**below.tags, **flags["tags"]}
    return config


def _clients(config: Config) -> Any:
    from sfncompile.deploy.aws import AwsClients

    return AwsClients(region=config.get("region"))


def _target_name(target: str, flow_name: str | None, config: Config,
                 branch: str | None = None, production: bool = False) -> tuple[str, Any]:
    """A state machine name from FLOW.py (on its @project branch) or NAME; with a file, also
    its parsed flow."""
    if target.endswith(".py"):
        from sfncompile.deploy.projects import resolve_project
        from sfncompile.emit.names import deployment_name
        from sfncompile.parser import parse_flow

        flow = parse_flow(Path(target), flow_name)
        project = resolve_project(flow, branch, production)
        return deployment_name(config.name_prefix, flow.name, project), flow
    if branch is not None or production:
        raise UsageError("--branch/--production: only with FLOW.py (NAME is the state "
                         "machine's whole name)")
    return target, None


_branch_options = [
    click.option("--branch", metavar="NAME", help="@project: the branch test.NAME (prod.NAME "
                 "with --production); default: your user branch."),
    click.option("--production", is_flag=True, help="@project: the production branch."),
]


def _with_branch_options(func: Any) -> Any:
    for option in reversed(_branch_options):
        func = option(func)
    return func


def _machine_options(func: Any) -> Any:
    """The options of Metaflow's `step-functions create` that change the state machine or
    its runs (deploy/machine_options.py)."""
    options = [
        click.option("--run-tag", "run_tags", multiple=True, metavar="TAG",
                     help="A tag of every run of the deployment (repeatable; Metaflow's "
                          "step-functions create --tag)."),
        click.option("--namespace", metavar="NS", help="The namespace of the deployment's "
                     "runs: namespace(NS) finds them (default: every namespace)."),
        click.option("--workflow-timeout", type=int, metavar="SECONDS",
                     help="The execution's timeout (the state machine's TimeoutSeconds)."),
        click.option("--use-distributed-map", is_flag=True,
                     help="Every foreach as a Distributed Map (child executions)."),
        click.option("--log-execution-history", is_flag=True,
                     help="Send every execution's history to the CloudWatch Logs log "
                          "group of the log_group setting."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command()
@click.argument("flow_file", metavar="FLOW.py", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--flow", "flow_name", metavar="NAME", help="The FlowSpec class to deploy.")
@click.option("--name", metavar="NAME", help="State machine name (default: prefix + flow name).")
@click.option("--schedule", metavar="EXPR",
              help="'cron(...)', 'rate(...)', 'none' (remove) or 'disable'; default: @schedule.")
@click.option("--timezone", metavar="TZ", help="IANA time zone; uses EventBridge Scheduler.")
@click.option("--max-workers", type=click.IntRange(min=1), metavar="N",
              help="MaxConcurrency of every foreach that does not set its own.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="A tag for every AWS resource (repeatable).")
@_machine_options
@click.option("--type", "machine_type", default="STANDARD", show_default=True,
              metavar="STANDARD|EXPRESS",
              help="State machine type; Batch .sync needs STANDARD, so EXPRESS is refused.")
@click.option("--dry-run", is_flag=True, help="Print the plan and the ASL; touch nothing.")
@click.option("-v", "--verbose", is_flag=True, help="List every AWS call made.")
@click.option("--branch", metavar="NAME",
              help="@project: deploy to branch test.NAME (prod.NAME with --production); "
                   "default: your user branch user.<name>.")
@click.option("--production", is_flag=True, help="@project: deploy to the production branch.")
@click.option("--with", "decospecs", multiple=True, metavar="DECO[:K=V,...]",
              help="Add a step decorator to every step that lacks it (Metaflow's --with).")
@config_file_option
@config_value_option
@_setting_options
def deploy(flow_file: Path, flow_name: str | None, name: str | None, schedule: str | None,
           timezone: str | None, max_workers: int | None, tags: tuple[str, ...],
           machine_type: str, dry_run: bool, verbose: bool, branch: str | None,
           production: bool, decospecs: tuple[str, ...], run_tags: tuple[str, ...],
           namespace: str | None, workflow_timeout: int | None, use_distributed_map: bool,
           log_execution_history: bool, config_files: Pairs, config_values: Pairs,
           **settings: Any) -> None:
    """Deploy FLOW.py: code package to S3, Batch job definition, state machine, schedule.

    Each part changes only when it differs from what is deployed, so running it twice
    changes nothing the second time. A Config's value (its default, --config/--config-value,
    or METAFLOW_FLOW_CONFIG[_VALUE]) is fixed in the deployment, as Metaflow's
    `step-functions create` fixes it: every run of it reads that value.
    """
    from sfncompile.deploy.deployer import deploy as apply
    from sfncompile.deploy.deployer import parse_schedule, plan, prepare, workdir
    from sfncompile.deploy.machine_options import MachineOptions
    from sfncompile.deploy.projects import check_branch_option
    from sfncompile.emit.limits import check_machine_type
    from sfncompile.emit.render import render_json

    check_machine_type(machine_type)
    check_branch_option(branch)
    config = _config(flow_file.parent, settings, tags)
    flow = load_flow(flow_file, flow_name, decospecs, given_configs(config_files, config_values))
    options = MachineOptions(max_workers, use_distributed_map, workflow_timeout, run_tags,
                             namespace).check()
    with workdir() as tmp:
        target = prepare(flow, flow_file, config, name=name,
                         schedule=parse_schedule(schedule, flow, timezone), workdir=Path(tmp),
                         branch=branch, production=production, options=options,
                         log_execution_history=log_execution_history)
        if dry_run:
            click.echo(f"Plan for {target.machine_name} (dry run: no AWS call is made):")
            for call in plan(target):
                click.echo(f"  {call}")
            names = {k: f"<{d['jobDefinitionName']}:revision>"
                     for k, d in target.job_definitions.items()}
            _print_package(target.package_files, target.package_path.stat().st_size)
            _print_image_note(flow)
            click.echo("Resolved ASL:")
            click.echo(render_json(target.resolved(names)), nl=False)
            return
        say = _progress()
        say(f"Deploying {flow.name} as {target.machine_name}")
        clients = _clients(config)
        arn, changed = apply(target, clients, say)
    if verbose:
        click.echo(f"AWS calls ({len(clients.calls)}, {len(clients.writes)} writes): "
                   f"{' '.join(clients.calls)}", err=True)
    if changed:
        click.echo(f"Deployed {arn} ({len(changed)} change{'s' if len(changed) != 1 else ''})")
    else:
        click.echo(f"No changes: {target.machine_name} is up to date ({arn})")
    _print_image_note(flow)


def _print_image_note(flow: Any) -> None:
    from sfncompile.local.requirements import image_note

    for line in image_note(flow):
        click.echo(line)


def _print_package(files: dict[str, int], compressed: int) -> None:
    """What the code package holds: the flow's files one by one, the runtime in one line."""
    runtime = {n: size for n, size in files.items()
               if n.startswith(("sfncompile/", "_sfncompile/"))}
    own = {n: size for n, size in files.items() if n not in runtime}
    click.echo(f"Code package: {len(files)} files, {_size(sum(files.values()))} "
               f"({_size(compressed)} compressed):")
    for name, size in sorted(own.items()):
        click.echo(f"  {size:>10,}  {name}")
    click.echo(f"  {sum(runtime.values()):>10,}  sfncompile runtime and step graph "
               f"({len(runtime)} files)")


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"


def _progress() -> Any:
    def say(line: str) -> None:
        click.echo(f"  {line}", err=True)

    return say


@click.command()
@click.argument("target", metavar="FLOW.py|NAME")
@click.option("--flow", "flow_name", metavar="NAME")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A flow Parameter (repeatable); an IncludeFile's is a path: the file is "
                   "stored in the runs' datastore and the run given a reference to it.")
@click.option("--name-prefix", metavar="PREFIX")
@click.option("--region", metavar="REGION")
@click.option("--s3-root", metavar="s3://BUCKET/PREFIX",
              help="The runs' datastore, where an IncludeFile's file is stored (default: "
                   "the deployment's, from its job definition).")
@click.option("--config", "config_files", nargs=2, multiple=True, hidden=True)
@click.option("--config-value", "config_values", nargs=2, multiple=True, hidden=True)
@_with_branch_options
def trigger(target: str, flow_name: str | None, params: tuple[str, ...], branch: str | None,
            production: bool, config_files: Pairs, config_values: Pairs,
            **settings: Any) -> None:
    """Start a run of a deployed flow; print its run id."""
    from sfncompile.deploy.ops import new_run_id
    from sfncompile.deploy.ops import trigger as start
    from sfncompile.runtime.params import ParameterError, parse_cli_pairs

    if config_files or config_values:  # taken only to say where they go, as Metaflow's has none
        raise UsageError(CONFIGS_AT_DEPLOY)

    config = _config(Path(target).parent if target.endswith(".py") else Path.cwd(), settings)
    name, flow = _target_name(target, flow_name, config, branch, production)
    try:
        given: dict[str, Any] = parse_cli_pairs(params)
    except ParameterError as exc:
        raise UsageError(str(exc)) from None
    given = _trigger_input(config, name, flow, given, Path(target).resolve().parent,
                           settings.get("s3_root"))
    run_id = start(_clients(config), name, new_run_id(), given)
    click.echo(f"Started {name}/{run_id}", err=True)
    click.echo(run_id)


def _trigger_input(config: Config, name: str, flow: Any, given: dict[str, Any],
                   flow_dir: Path, explicit_root: str | None) -> dict[str, Any]:
    """The execution input: the values checked, IncludeFiles stored and referenced. With
    NAME, the deployed code package says which parameters are files."""
    from sfncompile.deploy.ops import deployed_graph, graph_input

    deployed: list[str | None] = []  # the deployment's datastore root, once asked
    graph = flow.graph_json() if flow is not None else None
    if graph is None and given:
        graph, found = deployed_graph(_clients(config), name)
        deployed.append(found)
    if graph is None:
        return given

    def root() -> str | None:
        # Where the deployment's runs read an IncludeFile: its datastore, unless --s3-root.
        if explicit_root:
            return explicit_root
        if not deployed:
            deployed.append(deployed_graph(_clients(config), name)[1])
        return deployed[0] or config.get("s3_root")

    return graph_input(graph, given, flow_dir if flow is not None else None, root)


@click.command()
@click.argument("target", metavar="NAME|FLOW.py")
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option("--flow", "flow_name", metavar="NAME")
@click.option("--name-prefix", metavar="PREFIX")
@click.option("--region", metavar="REGION")
@click.option("--s3-root", metavar="s3://BUCKET/PREFIX",
              help="Also print the run's record (parameters, times, the failed task, its "
                   "exception and the end of its log) from this datastore (default: the "
                   "configured s3_root).")
@click.option("--json", "as_json", is_flag=True,
              help="Print what Step Functions says (the failure's cause as AWS gives it) and "
                   "the run's record, as JSON.")
@_with_branch_options
def status(target: str, run_id: str | None, flow_name: str | None, branch: str | None,
           production: bool, as_json: bool, **settings: Any) -> None:
    """List the runs of a deployed flow, or show one run: the step that failed and why.

    A @project flow given as FLOW.py is found under its deployed name (its branch from
    --branch/--production, else METAFLOW_BRANCH, else your user branch)."""
    from sfncompile.deploy import ops

    config = _config(Path(target).parent if target.endswith(".py") else Path.cwd(), settings)
    name, flow = _target_name(target, flow_name, config, branch, production)
    clients = _clients(config)
    if run_id is None:
        runs = ops.list_executions(clients, name)
        if as_json:
            click.echo(json.dumps([dataclasses.asdict(r) for r in runs], indent=2))
            return
        if not runs:
            click.echo(f"{name}: no runs yet")
        for r in runs:
            click.echo(f"{r.run_id:<40} {r.status:<10} {r.started}  {r.stopped}")
        return
    info = ops.describe_run(clients, name, run_id)
    root = config.get("s3_root")
    flow_of_run = flow.name if flow is not None else _flow_of_machine(name, config.name_prefix)
    if as_json:
        _status_json(name, run_id, info, root and str(root), flow_of_run)
    else:
        _print_status(name, run_id, info, root and str(root), flow_of_run, flow)
    if info["status"] != "SUCCEEDED" and info["status"] != "RUNNING":
        sys.exit(1)


def _flow_of_machine(name: str, prefix: str) -> str:
    """The flow of a state machine named `<prefix><Flow>` or, with @project,
    `<prefix><project>-<branch>-<Flow>` (a flow's name has no `-`)."""
    return name.removeprefix(prefix).rsplit("-", 1)[-1]


def _print_status(name: str, run_id: str, info: dict[str, Any], root: str | None,
                  flow_of_run: str, flow: Any) -> None:
    from sfncompile.cli.common import root_option
    from sfncompile.deploy.run_status import execution_lines, recorded_run

    click.echo(f"{name}/{run_id}: {info['status']} (started {info['started']}, "
               f"stopped {info['stopped']})")
    for line in execution_lines(info):
        click.echo(line)
    if root:
        catch_steps = None if flow is None else [
            s.name for s in flow.steps if s.policies.catch is not None]
        for line in recorded_run(root, flow_of_run, run_id, info["status"],
                                 root_option(root), catch_steps):
            click.echo(f"  {line}")
    elif info["status"] not in ("SUCCEEDED", "RUNNING"):
        click.echo("the exception and the end of the task's log: give --s3-root (or set "
                   "s3_root)")


def _status_json(name: str, run_id: str, info: dict[str, Any], root: str | None,
                 flow_of_run: str) -> None:
    from sfncompile.deploy.run_status import recorded_meta

    record = recorded_meta(root, flow_of_run, run_id) if root else None
    click.echo(json.dumps({"name": name, "run_id": run_id, "execution": info,
                           "record": record}, indent=2, sort_keys=True, default=str))


@click.command()
@click.argument("run", metavar="NAME/RUN")
@click.option("--name-prefix", metavar="PREFIX")
@click.option("--region", metavar="REGION")
def redrive(run: str, **settings: Any) -> None:
    """Restart a failed run from where it failed (Step Functions RedriveExecution)."""
    from sfncompile.deploy import ops

    name, _, run_id = run.partition("/")
    if not name or not run_id:
        raise UsageError(f"{run!r}: name the run as NAME/run-id")
    config = _config(Path.cwd(), settings)
    ops.redrive(_clients(config), f"{config.name_prefix}{name}" if not
                name.startswith(config.name_prefix) else name, run_id)
    click.echo(f"Redriving {run}")


@click.command()
@click.argument("name", metavar="NAME")
@click.option("--name-prefix", metavar="PREFIX")
@click.option("--region", metavar="REGION")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--event-bus", metavar="BUS", help="The bus of its trigger rules.")
def delete(name: str, yes: bool, **settings: Any) -> None:
    """Remove a deployed flow's state machine, schedule and job definitions."""
    from sfncompile.deploy import ops

    config = _config(Path.cwd(), settings)
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete the state machine {name} and its schedule?", abort=True)
    from sfncompile.deploy.deployer import OWNER_TAG, event_bus, rule_name
    from sfncompile.deploy.rules import delete_rules

    clients = _clients(config)
    removed = delete_rules(clients, name, event_bus(config), OWNER_TAG)
    removed += ops.delete(clients, name, rule_name(name))
    for item in removed:
        click.echo(f"  removed {item}", err=True)
    if not removed:
        raise UsageError(f"nothing named {name} is deployed (no state machine, schedule or "
                         "job definition of that name)")
    click.echo(f"Deleted {name}. Left alone: the code packages and run artifacts in S3 "
               f"({config.get('s3_root') or 'your s3_root'}), which `sfncompile.client` "
               "still reads.")


@click.group()
def config() -> None:
    """Inspect the deployment settings."""


@config.command("show")
@click.argument("flow_file", metavar="[FLOW.py]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@_setting_options
def config_show(flow_file: Path | None, **settings: Any) -> None:
    """Print the effective settings and where each one came from."""
    if flow_file is not None and not flow_file.is_file():
        raise UsageError(f"{flow_file}: no such file (the settings are looked up from the "
                         "flow's directory)")
    where = flow_file.parent if flow_file else Path.cwd()
    cfg = _config(where, settings)
    for s in SETTINGS:
        value = cfg.values.get(s.name)
        shown = json.dumps(value) if isinstance(value, dict) else (value or "-")
        source = cfg.sources.get(s.name, "unset" + (" (required)" if s.required else ""))
        click.echo(f"{s.name:<12} {shown}  [{source}]")


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
    from sfncompile.runtime.params import ParameterError, parse_cli_pairs
    from sfncompile.runtime.publish import EventError, publish_event

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
        os.environ.setdefault("AWS_DEFAULT_REGION", str(config.get("region")))
    try:
        event_id = publish_event(name, body, bus=str(config.get("event_bus") or "default"))
    except EventError as exc:
        raise UsageError(f"event {name[:80]!r}: {exc}") from None
    click.echo(f"Published {name!r} on bus {config.get('event_bus') or 'default'}", err=True)
    click.echo(event_id)


@click.command("dev-aws")
@click.option("--port", type=click.IntRange(1, 65535), default=4599, show_default=True,
              help="The port on 127.0.0.1.")
@click.option("--job-log-dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="One <job id>.log (and .json) per Batch job (default: a new "
              "temporary directory).")
@click.option("--access-log", is_flag=True,
              help="Print a line per HTTP request on stderr, as moto's server does.")
def dev_aws(port: int, job_log_dir: Path | None, access_log: bool) -> None:
    """Run Step Functions, Batch, S3 and EventBridge on this machine (moto, patched) to try
    deploy, trigger, status and redrive without an AWS account; print what to export."""
    from sfncompile.devaws.server import moto_problem, serve

    problem = moto_problem()
    if problem:
        raise UsageError(f"{problem}; dev-aws needs it: pip install 'sfncompile[dev-aws]'")
    serve(port, job_log_dir, access_log=access_log)


COMMANDS = [deploy, trigger, status, redrive, delete, config, event, dev_aws]
