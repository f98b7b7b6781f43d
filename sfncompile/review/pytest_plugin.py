"""pytest plugin: golden tests of flows in the user's own repository.

Registered through the `pytest11` entry point, so it is active wherever sfncompile is
installed. A test asks for the `sfncompile_golden` fixture and calls it once per flow:

    def test_train_flow(sfncompile_golden):
        sfncompile_golden("flows/train.py")                    # golden: flows/train.asl.json
        sfncompile_golden("flows/etl.py", "goldens/etl.json")  # or anywhere

Relative paths are taken from pytest's rootdir. A golden that differs fails the test with the
semantic diff (what changed per step) and then the JSON diff; `--sfncompile-update-goldens`
rewrites the goldens that differ (and creates missing ones) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

UPDATE_OPTION = "--sfncompile-update-goldens"

GoldenCheck = Callable[..., Path]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sfncompile")
    group.addoption(UPDATE_OPTION, action="store_true",
                    help="Rewrite the golden ASL files of the flows that the tests build.")


@pytest.fixture
def sfncompile_golden(request: pytest.FixtureRequest) -> GoldenCheck:
    """Build a flow and compare it with its golden ASL file; returns the golden's path."""
    root = request.config.rootpath
    update = bool(request.config.getoption(UPDATE_OPTION))

    def check(flow_path: str | Path, golden_path: str | Path | None = None,
              flow_name: str | None = None) -> Path:
        from sfncompile.errors import FlowErrors, UsageError
        from sfncompile.review.golden import check_flow

        flow = _shown(root / flow_path)
        golden = _shown(root / golden_path) if golden_path is not None else None
        try:
            result = check_flow(flow, golden, flow_name)
        except (FlowErrors, UsageError) as exc:
            problem = f"{flow} does not build:\n{exc}"
        else:
            if update:
                result.update()
                return result.golden
            if result.up_to_date:
                return result.golden
            verb = "is missing" if result.expected is None else "is out of date"
            problem = (f"{result.explain()}\n{result.golden} {verb}; if the flow is right, run "
                       f"pytest {UPDATE_OPTION} and review the diff")
        pytest.fail(problem, pytrace=False)

    return check


def _shown(path: Path) -> Path:
    """The path as the user reads it: relative to the current directory when under it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
