"""Every golden flow shape runs locally, task by task in real processes, with the results
read back through sfncompile.client; the same again with the datastore on S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flows import CASES, Case, end_data, run_local


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/runs"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_golden_flow_runs(case: Case, root: str) -> None:
    proc = run_local(case.flow_file, root, case.params)
    assert proc.returncode == 0, proc.stderr
    pathspec = proc.stdout.strip().splitlines()[-1]
    assert pathspec.startswith(proc.stderr.split("Run ")[1].split("/")[0] + "/")
    data = end_data(root, pathspec)
    for name, value in case.expect.items():
        assert data[name] == value, name
