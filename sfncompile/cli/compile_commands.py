"""`build`, `graph`, `validate` and `diff`: from a flow file to what it compiles to."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sfncompile.cli.common import (
    EXIT_DIFF,
    EXIT_USAGE,
    Pairs,
    config_file_option,
    config_value_option,
    flow_argument,
    flow_option,
    given_configs,
    load_flow,
    parse_pairs,
    with_option,
)
from sfncompile.errors import FlowErrors, UsageError


@click.command()
@click.argument("flow_files", metavar="FLOW.py...", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@flow_option
@click.option("--format", "fmt", type=click.Choice(["asl", "cloudformation"]), default="asl",
              show_default=True,
              help="asl: the state machine only; cloudformation: a stack with the state "
                   "machine, job definitions, least-privilege roles and the schedule.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@click.option("--check", "golden", type=click.Path(dir_okay=False, path_type=Path),
              help="Compare with a golden file; exit 1 if it differs, saying what changed per "
                   "step, then the unified diff.")
@click.option("--check-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Compare each FLOW.py with DIR/<its directory's name>/<its stem>.asl.json "
                   "(golden/x/flow.py: golden/x/flow.asl.json), all in one process; exit 1 "
                   "with a diff for each that differs.")
@click.option("--resolve", "resolve_pairs", multiple=True, metavar="KEY=VALUE",
              help="Substitute a ${KEY} placeholder (repeatable), as deploy does (asl only).")
@click.option("--code-package", metavar="s3://BUCKET/KEY",
              help="cloudformation: the code package tarball (default of CodePackageKey).")
@click.option("--code-sha256", metavar="HEX",
              help="cloudformation: the code package's sha256 (default of CodePackageSha256).")
@click.option("--s3-root", metavar="s3://BUCKET/PREFIX",
              help="cloudformation: the datastore root (defaults of S3Bucket, S3KeyPrefix).")
@click.option("--job-queue", metavar="ARN", help="cloudformation: default of JobQueueArn.")
@click.option("--image", help="cloudformation: default of Image.")
@click.option("--name-prefix", help="cloudformation: prefix of the state machine's name.")
@click.option("--tags", metavar="KEY=VALUE,...", help="cloudformation: tags for the resources.")
@click.option("--branch", metavar="NAME", help="cloudformation: the @project branch, as deploy.")
@click.option("--production", is_flag=True, help="cloudformation: the @project production branch.")
@with_option
@config_file_option
@config_value_option
def build(flow_files: tuple[Path, ...], flow_name: str | None, fmt: str, output: Path | None,
          golden: Path | None, check_dir: Path | None, resolve_pairs: tuple[str, ...],
          code_package: str | None, code_sha256: str | None, branch: str | None,
          production: bool, decospecs: tuple[str, ...], config_files: Pairs,
          config_values: Pairs, **settings: str | None) -> None:
    """Compile FLOW.py to Amazon States Language (JSON), or to a CloudFormation template.

    The ASL is deterministic and account-independent: deployment values are ${Name}
    placeholders (JobQueue, JobDefinition, S3Bucket, S3KeyPrefix) that deploy fills in.

    Several FLOW.py files are built together only with --check-dir (golden tests in CI).

    A Config's value (its default, --config/--config-value, or METAFLOW_FLOW_CONFIG[_VALUE])
    is fixed in what is built, as Metaflow fixes it when it deploys.

    With --format cloudformation, the template maps those placeholders to stack parameters
    and resources. Settings (flags, SFNCOMPILE_* environment, [tool.sfncompile] or
    sfncompile.toml) become the parameters' defaults; the template creates its own roles, so
    sfn_role, job_role and events_role are not used.
    """
    from sfncompile.emit import compile_asl
    from sfncompile.emit.render import render_json, resolve

    if check_dir is not None:
        given = [flag for flag, value in (("--check", golden), ("-o", output),
                                          ("--resolve", resolve_pairs), ("--with", decospecs),
                                          ("--config", config_files),
                                          ("--config-value", config_values))
                 if value]
        if fmt != "asl" or given:
            raise UsageError(f"--check-dir: not with {', '.join(given) or '--format ' + fmt}")
        check_goldens(flow_files, flow_name, check_dir)
        return
    if len(flow_files) > 1:
        raise UsageError("several FLOW.py files: only with --check-dir DIR")
    flow_file = flow_files[0]
    cfn_only = {"--code-package": code_package, "--code-sha256": code_sha256,
                "--branch": branch, "--production": production,
                **{f"--{k.replace('_', '-')}": v for k, v in settings.items()}}
    if fmt == "asl":
        given = sorted(k for k, v in cfn_only.items() if v)
        if given:
            raise UsageError(f"{', '.join(given)}: only with --format cloudformation")
    elif resolve_pairs:
        raise UsageError("--resolve: only with --format asl (the template substitutes "
                         "placeholders itself, through DefinitionSubstitutions)")
    flow = load_flow(flow_file, flow_name, decospecs, given_configs(config_files, config_values))
    definition = compile_asl(flow, check_schema=False, deployment=False)
    if fmt == "asl":
        from sfncompile.emit.aws_support import aws_warnings

        for line in aws_warnings(flow):
            click.echo(line, err=True)
    if fmt == "cloudformation":
        from sfncompile.deploy.config import load_config
        from sfncompile.emit.cloudformation import StackSettings, cloudformation_template

        config = load_config(flow_file.parent, dict(settings))
        from sfncompile.deploy.projects import resolve_project

        stack = StackSettings.from_values(config.values, code_package=code_package,
                                          code_sha256=code_sha256,
                                          project=resolve_project(flow, branch, production))
        emit_text(render_json(cloudformation_template(flow, definition, stack)), output, golden,
                  flow_file)
        return
    if resolve_pairs:
        definition = resolve(definition, parse_pairs(resolve_pairs, "--resolve"))
    text = render_json(definition)
    emit_text(text, output, golden, flow_file)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def golden_for(flow_file: Path, check_dir: Path) -> Path:
    """`--check-dir` layout: DIR/<the flow's directory name>/<the flow's stem>.asl.json."""
    return check_dir / flow_file.resolve().parent.name / f"{flow_file.stem}.asl.json"


def check_goldens(flow_files: tuple[Path, ...], flow_name: str | None, check_dir: Path) -> None:
    """Build and compare every flow in this process; report all of them, then exit."""
    from sfncompile.review.golden import check_flow

    bad_input = differ = 0
    for flow_file in flow_files:
        try:
            check = check_flow(flow_file, golden_for(flow_file, check_dir), flow_name)
        except FlowErrors as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            bad_input += 1
            continue
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            bad_input += 1
            continue
        if not check.up_to_date:
            sys.stdout.write(check.explain())
            differ += 1
    ok = len(flow_files) - bad_input - differ
    click.echo(f"{ok} up to date, {differ} differ, {bad_input} with errors "
               f"(goldens under {check_dir})", err=True)
    if bad_input:
        sys.exit(EXIT_USAGE)
    if differ:
        sys.exit(EXIT_DIFF)


def compare_with_golden(text: str, golden: Path, option: str) -> bool:
    """True when `golden` holds `text`; otherwise say what changed per step, then the
    unified diff, on stdout."""
    try:
        raw = golden.read_bytes()  # byte for byte: no newline translation
    except OSError as exc:
        raise UsageError(f"{option} {golden}: cannot read it: {exc.strerror}") from None
    if raw == text.encode():
        return True
    try:
        expected = raw.decode()
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option} {golden}: not UTF-8 (byte {exc.start})") from None
    from sfncompile.review.golden import explain_drift

    sys.stdout.write(explain_drift(expected, text, str(golden)))
    return False


def emit_text(text: str, output: Path | None, golden: Path | None,
              source: Path | None = None) -> None:
    if golden is not None:
        if not compare_with_golden(text, golden, "--check"):
            sys.exit(EXIT_DIFF)
        click.echo(f"{golden}: up to date", err=True)
        return
    if output is not None:
        if source is not None and _same_file(output, source):
            raise UsageError(f"-o {output}: that is the flow file itself; write elsewhere")
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"-o {output}: cannot write it: {exc.strerror}") from None
        return
    sys.stdout.write(text)


@click.command()
@flow_argument
@flow_option
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid renders in GitHub pull requests.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@config_file_option
@config_value_option
def graph(flow_file: Path, flow_name: str | None, fmt: str, output: Path | None,
          config_files: Pairs, config_values: Pairs) -> None:
    """Draw the step graph of FLOW.py."""
    from sfncompile.emit import diagram

    flow = load_flow(flow_file, flow_name, (), given_configs(config_files, config_values))
    emit_text(diagram.mermaid(flow) if fmt == "mermaid" else diagram.dot(flow), output, None,
              flow_file)


@click.command()
@click.argument("asl_file", metavar="FILE.json", type=click.Path(dir_okay=False, path_type=Path))
def validate(asl_file: Path) -> None:
    """Check an ASL file against sfncompile's JSON Schema for Amazon States Language."""
    import json

    from sfncompile.emit.asl_checks import validate_asl

    try:
        definition = json.loads(asl_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{asl_file}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{asl_file}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{asl_file}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{asl_file}: nested too deeply to be a state machine") from None
    except ValueError as exc:  # an integer of over 4300 digits
        raise UsageError(f"{asl_file}: not usable JSON: {exc}") from None
    try:
        problems = validate_asl(definition)
    except RecursionError:
        raise UsageError(f"{asl_file}: nested too deeply to be a state machine") from None
    for problem in problems:
        click.echo(f"{asl_file}: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{asl_file}: valid")


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


COMMANDS = [build, graph, validate, diff]
