"""Every ASL file we ship or pin passes three independent validators; broken ones are caught.

The validators catch different mistakes (see DESIGN.md), so each runs on every file:
``ours`` is sfncompile.emit.asl_checks (our JSON Schema plus graph checks), ``asl-validator``
is the npm CLI and ``lsp`` is AWS's amazon-states-language-service through
tools/node/validate-lsp.js. Each node tool runs once for all files, in a session fixture.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sfncompile.emit.asl_checks import validate_asl

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tools" / "node"
DATA = Path(__file__).resolve().parent / "data" / "asl"

GOLDEN = sorted((ROOT / "golden").glob("**/*.asl.json"))
VALID = GOLDEN + sorted((DATA / "valid").glob("*.asl.json"))
INVALID = sorted((DATA / "invalid").glob("*.asl.json"))

# file name -> (validators that must reject it, a fragment of our message saying why).
# The gaps are real and documented: asl-validator ignores unknown fields inside Retry and
# Distributed-only fields on an Inline Map; the language service accepts a Map without an
# ItemProcessor and reuses of a state name in a nested scope.
EXPECTED_REJECTIONS: dict[str, tuple[set[str], str]] = {
    "retry_field_typo.asl.json": ({"ours", "lsp"}, "'MaxAttempt' was unexpected"),
    "map_without_item_processor.asl.json": (
        {"ours", "asl-validator"},
        "needs exactly one of ItemProcessor or Iterator",
    ),
    "next_to_missing_state.asl.json": (
        {"ours", "asl-validator", "lsp"},
        "'middle' is not a state in this scope",
    ),
    "duplicate_nested_state_name.asl.json": (
        {"ours", "asl-validator"},
        "state name 'join' is also used at $.States.join",
    ),
    "item_reader_on_inline_map.asl.json": (
        {"ours"},
        "ItemReader needs ItemProcessor.ProcessorConfig.Mode DISTRIBUTED",
    ),
}

_ASL_VALIDATOR_LINE = re.compile(
    r'State machine definition "(?P<file>.+)" is (?P<verdict>valid|invalid)'
)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _load_strict(path: Path) -> dict[str, Any]:
    """json.load, but a duplicated key (which would silently drop a state) is an error."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        assert not dupes, f"{_rel(path)}: duplicate JSON keys {dupes}"
        return dict(pairs)

    data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)
    assert isinstance(data, dict), f"{_rel(path)}: top level is not an object"
    return data


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tools/node/node_modules, installed by `npm ci --prefix tools/node` (scripts/test)."""
    modules = NODE_DIR / "node_modules"
    missing = [
        name
        for name in ("asl-validator", "amazon-states-language-service")
        if not (modules / name / "package.json").is_file()
    ]
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH; the ASL validators need Node.js >= 18", pytrace=False)
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)} in {modules}: run "
            "`npm ci --prefix tools/node` (scripts/test does it)",
            pytrace=False,
        )
    return modules


def _run_node_tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    # Both tools exit 1 when some file is invalid and 2 when they could not run at all.
    if result.returncode not in (0, 1):
        pytest.fail(
            f"{' '.join(argv[:2])} exited {result.returncode}\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result


@pytest.fixture(scope="session")
def asl_validator_verdicts(node_modules: Path) -> dict[Path, str]:
    """file -> asl-validator's output for it ('' when valid), one process for all files."""
    files = VALID + INVALID
    argv = [str(node_modules / ".bin" / "asl-validator")]
    for path in files:
        argv += ["--json-path", str(path)]
    result = _run_node_tool(argv)
    verdicts: dict[Path, str] = {}
    current: Path | None = None
    for line in (result.stdout + "\n" + result.stderr).splitlines():
        match = _ASL_VALIDATOR_LINE.search(line)
        if match:
            current = Path(match["file"])
            verdicts[current] = "" if match["verdict"] == "valid" else line.strip()
        elif current is not None and verdicts.get(current) and line.strip():
            verdicts[current] += "\n" + line.strip()
    assert set(verdicts) == set(files), f"asl-validator did not report on every file:\n{result}"
    return verdicts


@pytest.fixture(scope="session")
def lsp_diagnostics(node_modules: Path) -> dict[Path, list[str]]:
    """file -> the language service's diagnostics, one process for all files."""
    files = VALID + INVALID
    result = _run_node_tool(["node", str(NODE_DIR / "validate-lsp.js"), *map(str, files)])
    diagnostics: dict[Path, list[str]] = {path: [] for path in files}
    for line in result.stdout.splitlines():
        owner = next((p for p in files if line.startswith(f"{p}:")), None)
        assert owner is not None, f"unexpected validate-lsp.js output: {line!r}"
        diagnostics[owner].append(line[len(str(owner)) + 1 :])
    assert (result.returncode == 1) == any(diagnostics.values()), result
    return diagnostics


def test_fixtures_are_present_and_expectations_complete() -> None:
    assert len(VALID) >= 3
    assert {p.name for p in INVALID} == set(EXPECTED_REJECTIONS)


@pytest.mark.parametrize("path", VALID, ids=_rel)
def test_valid_asl_passes_every_validator(
    path: Path, asl_validator_verdicts: dict[Path, str], lsp_diagnostics: dict[Path, list[str]]
) -> None:
    assert validate_asl(_load_strict(path)) == []
    assert asl_validator_verdicts[path] == ""
    assert lsp_diagnostics[path] == []


@pytest.mark.parametrize("path", INVALID, ids=_rel)
def test_invalid_asl_is_rejected(
    path: Path, asl_validator_verdicts: dict[Path, str], lsp_diagnostics: dict[Path, list[str]]
) -> None:
    expected, reason = EXPECTED_REJECTIONS[path.name]
    ours = validate_asl(_load_strict(path))
    assert any(reason in message for message in ours), ours
    rejected_by = {"ours"}
    if asl_validator_verdicts[path]:
        rejected_by.add("asl-validator")
    if lsp_diagnostics[path]:
        rejected_by.add("lsp")
    # Equality, not inclusion: if a validator starts catching (or stops catching) one of
    # these, the table above and DESIGN.md's notes on the validators need updating.
    assert rejected_by == expected, (asl_validator_verdicts[path], lsp_diagnostics[path])


def _machine(states: dict[str, Any], start: str = "a") -> dict[str, Any]:
    return {"StartAt": start, "States": states}


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        pytest.param(
            _machine({"a": {"Type": "Pass", "End": True}}, start="b"),
            ["$.StartAt: 'b' is not a state in this scope"],
            id="start-at-missing",
        ),
        pytest.param(
            _machine(
                {
                    "a": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "z"}],
                        "Default": "y",
                    }
                }
            ),
            [
                "$.States.a.Choices[0].Next: 'z' is not a state in this scope",
                "$.States.a.Default: 'y' is not a state in this scope",
            ],
            id="choice-targets-missing",
        ),
        pytest.param(
            _machine(
                {
                    "a": {
                        "Type": "Parallel",
                        "Branches": [_machine({"a b": {"Type": "Pass", "Next": "a"}}, "a b")],
                        "End": True,
                    }
                }
            ),
            ["$.States.a.Branches[0].States[\"a b\"].Next: 'a' is not a state in this scope"],
            id="branch-cannot-leave-its-scope",
        ),
        pytest.param(
            _machine(
                {
                    "a": {"Type": "Pass", "Next": "b"},
                    "b": {"Type": "Pass", "End": True},
                    "c": {"Type": "Pass", "Next": "a"},
                }
            ),
            ["$.States.c: state 'c' is unreachable from StartAt"],
            id="unreachable",
        ),
        pytest.param(
            _machine({"a": {"Type": "Pass", "Next": "a", "End": True}}),
            ["$.States.a: a non-terminal state needs exactly one of Next or End"],
            id="next-and-end",
        ),
        pytest.param(
            _machine({"a": {"Type": "Pass", "Next": "b" * 81}, "b" * 81: {"Type": "Succeed"}}),
            [f"$.States.a.Next: '{'b' * 81}' is too long", f"$.States: '{'b' * 81}' is too long"],
            id="name-too-long",
        ),
        pytest.param(
            _machine(
                {
                    "a": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::batch:submitJob.sync",
                        "Retry": [{"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5}],
                        "End": True,
                    }
                }
            ),
            ["$.States.a.Retry[0].BackoffRate: 0.5 is less than the minimum of 1"],
            id="backoff-below-one",
        ),
    ],
)
def test_validate_asl_messages(definition: dict[str, Any], expected: list[str]) -> None:
    assert validate_asl(definition) == expected


def test_validate_asl_is_deterministic_and_survives_garbage() -> None:
    garbage: dict[str, Any] = {
        "StartAt": [],
        "States": {"a": [], "b": {"Type": "Map", "ItemProcessor": {"States": 1}, "Next": {}}},
    }
    first = validate_asl(garbage)
    assert first == sorted(first) == validate_asl(garbage)
    assert first  # and it reports, rather than raising


def test_our_schema_is_a_valid_json_schema() -> None:
    import json
    from importlib.resources import files

    from jsonschema import Draft202012Validator

    text = files("sfncompile.emit").joinpath("asl_schema.json").read_text(encoding="utf-8")
    Draft202012Validator.check_schema(json.loads(text))


def test_repeated_states_are_still_checked() -> None:
    """The schema check skips states equal up to names; a state that differs is still seen."""
    import json

    from sfncompile.emit.asl_checks import validate_asl
    from tests.conftest import GOLDEN

    definition = json.loads((GOLDEN / "split_wide" / "flow.asl.json").read_text())
    branch = definition["States"]["start split"]["Branches"][17]["States"]["b17"]
    branch["Retry"][0]["MaxAttempt"] = branch["Retry"][0].pop("MaxAttempts")
    problems = validate_asl(definition)
    assert any("b17" in p and "MaxAttempt" in p for p in problems), problems
