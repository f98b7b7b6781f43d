"""Every flow of the parity corpus builds with `sfncompile build`, and its ASL passes the
three validators: our schema and graph checks, asl-validator and AWS's language service, each
node tool once for all the files. So do the flows compared against moto (aws_flows) and the
build-only flows, which need AWS Batch, Kubernetes or a package manager under Metaflow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sfncompile.cli import main
from sfncompile.emit.asl_checks import validate_asl
from tests.parity.corpus import FLOWS
from tests.test_asl_validators import _ASL_VALIDATOR_LINE, NODE_DIR, _run_node_tool

PARITY = Path(__file__).resolve().parent / "parity"
FILES = sorted(p for d in (FLOWS, PARITY / "aws_flows", PARITY / "build_only")
               for p in d.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[Path, Path], list[str]]:
    """(flow file -> its ASL, the failed builds), built through the CLI in this process."""
    out = tmp_path_factory.mktemp("parity-asl")
    runner = CliRunner()
    asl: dict[Path, Path] = {}
    failures = []
    for flow in FILES:
        target = out / f"{flow.parent.name}-{flow.stem}.asl.json"
        result = runner.invoke(main, ["build", str(flow), "-o", str(target)])
        if result.exit_code == 0 and target.exists():
            asl[flow] = target
        else:
            failures.append(f"{flow.name}: exit {result.exit_code}\n{result.output}")
    return asl, failures


@pytest.fixture(scope="module")
def built(builds: tuple[dict[Path, Path], list[str]]) -> dict[Path, Path]:
    return builds[0]


def test_every_flow_builds(builds: tuple[dict[Path, Path], list[str]]) -> None:
    assert len(FILES) >= 45
    assert not builds[1], "sfncompile build failed:\n" + "\n".join(builds[1])


def test_every_flow_passes_our_validation(built: dict[Path, Path]) -> None:
    assert built
    problems = {flow.name: validate_asl(json.loads(path.read_text()))
                for flow, path in built.items()}
    assert not {k: v for k, v in problems.items() if v}


def test_every_flow_passes_the_node_validators(built: dict[Path, Path]) -> None:
    modules = NODE_DIR / "node_modules"
    if shutil.which("node") is None or not (modules / "asl-validator").is_dir():
        pytest.fail("the ASL validators are missing: run `npm ci --prefix tools/node`",
                    pytrace=False)
    files = [str(p) for p in built.values()]
    argv = [str(modules / ".bin" / "asl-validator")]
    for file in files:
        argv += ["--json-path", file]
    result = _run_node_tool(argv)
    verdicts = {m["file"]: m["verdict"] for m in map(_ASL_VALIDATOR_LINE.search,
                                                      result.stdout.splitlines()) if m}
    assert set(verdicts) == set(files), result.stdout + result.stderr
    assert {f for f, v in verdicts.items() if v != "valid"} == set(), result.stdout
    lsp = _run_node_tool(["node", str(NODE_DIR / "validate-lsp.js"), *files])
    assert lsp.returncode == 0 and not lsp.stdout.strip(), lsp.stdout + lsp.stderr
