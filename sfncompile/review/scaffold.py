"""`sfncompile init`: a flow project that tests itself from the first commit.

The files come from sfncompile/templates/init/; the golden is built from the example flow and
sfncompile.toml is written from the deployment settings themselves, so neither can fall out of
date with the compiler.
"""

from __future__ import annotations

from pathlib import Path

from sfncompile.errors import UsageError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "init"

# template -> where it goes in the project
FILES = {
    "hello_flow.py.tmpl": "flows/hello_flow.py",
    "test_flows.py.tmpl": "tests/test_flows.py",
    "requirements.txt.tmpl": "requirements.txt",
    "gitignore.tmpl": ".gitignore",
    "workflow.yml.tmpl": ".github/workflows/flows.yml",
}
EXAMPLE_FLOW = "flows/hello_flow.py"
GOLDEN = "flows/hello_flow.asl.json"
CONFIG = "sfncompile.toml"

# Example values shown (commented out) in sfncompile.toml; a setting without one shows "".
EXAMPLES = {
    "s3_root": '"s3://my-bucket/sfncompile"',
    "job_queue": '"arn:aws:batch:eu-west-1:123456789012:job-queue/sfncompile"',
    "image": '"123456789012.dkr.ecr.eu-west-1.amazonaws.com/sfncompile:latest"',
    "sfn_role": '"arn:aws:iam::123456789012:role/sfncompile-StateMachineRole"',
    "job_role": '"arn:aws:iam::123456789012:role/sfncompile-JobRole"',
    "platform": '"EC2"',
    "execution_role": '"arn:aws:iam::123456789012:role/sfncompile-JobExecutionRole"',
    "events_role": '"arn:aws:iam::123456789012:role/sfncompile-EventsRole"',
    "region": '"eu-west-1"',
    "name_prefix": '"ml-"',
}


def config_text() -> str:
    """sfncompile.toml with every deployment setting, each commented out with its meaning."""
    from sfncompile.deploy.config import SETTINGS

    lines = [
        "# sfncompile deployment settings, read by `sfncompile deploy` for the flows below this",
        "# directory. Uncomment what you need. Precedence, highest first: the command-line flag",
        "# (--s3-root, ...), the environment (SFNCOMPILE_S3_ROOT, ...), [tool.sfncompile] in",
        "# pyproject.toml, then this file. `build`, `run` and the tests need none of them.",
    ]
    tables = []
    for setting in SETTINGS:
        need = "required for deploy" if setting.required else "optional"
        block = ["", f"# {setting.help} ({need})"]
        if setting.name == "tags":
            block += ["# [tags]", '# team = "ml"']
            tables += block  # a TOML table must come after the plain keys
            continue
        block.append(f"# {setting.name} = {EXAMPLES.get(setting.name, chr(34) * 2)}")
        lines += block
    return "\n".join([*lines, *tables]) + "\n"


# Above the default pin: sfncompile is not on PyPI yet, so the pin alone would not install.
PIN_COMMENT = """\
# sfncompile is not published on PyPI yet: until it is, this pin does not install. Replace it
# with what pip can reach from this directory (CI runs here): a wheel you commit or host
# (./wheels/sfncompile-{version}-py3-none-any.whl), a checkout, or git+https://HOST/sfncompile,
# or write the project with `sfncompile init --sfncompile-spec PATH_OR_WHEEL_OR_PIN`.
"""


def requirement_line(spec: str | None, version: str) -> str:
    """requirements.txt's sfncompile line: `spec` as given (`-e ../sfncompile` too), else the
    pin of `version` (that writes the project: its golden and tests are made with it) and why
    it may not install yet."""
    if spec is None:
        return PIN_COMMENT.format(version=version) + f"sfncompile=={version}"
    if not spec.strip() or spec != spec.strip() or "\n" in spec or "\r" in spec:
        raise UsageError(f"--sfncompile-spec {spec!r}: give one requirement, a path or a URL "
                         "on one line, without surrounding spaces")
    return spec


def scaffold(directory: Path, version: str, force: bool = False,
             spec: str | None = None) -> list[Path]:
    """Write the project; refuse to overwrite anything unless `force`. `spec` is how its
    requirements.txt (and so its CI) installs sfncompile: a pin, a path, a wheel or a URL;
    by default the pin of `version`, sfncompile's."""
    from sfncompile.review.golden import check_flow

    line = requirement_line(spec, version)
    contents = {dest: (TEMPLATES / name).read_text(encoding="utf-8")
                for name, dest in FILES.items()}
    contents[FILES["requirements.txt.tmpl"]] = contents[FILES["requirements.txt.tmpl"]] \
        .replace("{sfncompile}", line)
    contents[CONFIG] = config_text()
    targets = [directory / rel for rel in [*contents, GOLDEN]]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise UsageError(f"would overwrite {', '.join(existing)} (use --force)")
    written = []
    for rel, text in contents.items():
        path = directory / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: cannot write it: {exc.strerror or exc}") from None
        written.append(path)
    check = check_flow(directory / EXAMPLE_FLOW, directory / GOLDEN)
    check.update()
    written.append(check.golden)
    return sorted(written)
