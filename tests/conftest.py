"""Shared test options and fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"

# The `moto_endpoint` fixture: a real moto server for the session (see tests/moto_server.py).
pytest_plugins = ["tests.moto_server", "tests.moto_sfn.fixture", "tests.deployment"]


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
