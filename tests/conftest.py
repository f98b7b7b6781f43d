"""Shared test options and fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"

# The `moto_endpoint` fixture: a real moto server for the session (see tests/moto_server.py).
pytest_plugins = ["tests.moto_server", "tests.moto_sfn.fixture", "tests.deployment"]


# A local @retry waits minutes_between_retries (at least 1 s), as on AWS: the tests' runs, and
# the processes they start, retry at once (tests/test_retry_wait.py measures the wait).
os.environ.setdefault("SFNCOMPILE_RETRY_WAIT_SCALE", "0")  # local.runner.RETRY_WAIT_SCALE_ENV


# `scripts/test --fast` leaves out the tests marked slow: those that start moto's server, run
# flows as processes, build virtualenvs or lint the whole tree. A test is slow when its module
# (or module::test) is listed here or when it asks for one of the server fixtures.
SLOW = frozenset({
    "test_client_in_progress", "test_client_parity", "test_cross_python", "test_e2e",
    "test_faults", "test_interrupt", "test_lint", "test_local_run", "test_moto_harness",
    "test_resume", "test_deploy", "test_precommit_hook", "test_parity", "test_tutorials",
    "test_properties::test_local_runner_runs_the_tasks_the_state_machine_would",
    "test_services::test_nbrunner_runs_the_flow_of_a_notebook_cell",
})
SLOW_FIXTURES = frozenset({"moto_endpoint", "sfn_endpoint", "s3_bucket", "deployment"})


# The longest tests (each half a minute or more on 2 cores) go first, so that no worker is
# left running one of them alone at the end of the suite.
LONGEST = ("test_e2e.py::test_deployed_flow_matches_local_run[foreach[width=100]]",
           "test_parity.py", "test_events_e2e.py", "test_tutorials.py",
           "test_flow_structure.py::test_run_inputs_on_step_functions")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path, _, name = item.nodeid.partition("::")
        module = path.rpartition("/")[2].removesuffix(".py")
        test = f"{module}::{name.partition('[')[0]}"
        if {module, test} & SLOW or SLOW_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: not any(part in item.nodeid for part in LONGEST))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite the golden files from the current output (then read the diff).",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def golden_dirs() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if (p / "flow.py").exists())


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    """A fresh bucket on the moto server (reached over HTTP, like real S3)."""
    import uuid

    import boto3

    name = f"sfn-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name
