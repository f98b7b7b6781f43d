"""Every golden flow shape runs locally, task by task in real processes, with the results
read back through sfncompile.client; the same again with the datastore on S3 (moto).

The 300-wide foreach runs on the local root only: on S3 it costs over a minute of the suite's
CPU and adds nothing that the 4-wide case and the 100-wide end-to-end case do not cover."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flows import CASES, Case, end_data, run_local

RUNS = [pytest.param(case, where, id=f"{where}-{case.id}")
        for where in ("local", "s3") for case in CASES
        if where == "local" or case.params.get("width") != "300"]


@pytest.mark.parametrize(("case", "where"), RUNS)
def test_golden_flow_runs(case: Case, where: str, request: pytest.FixtureRequest,
                          tmp_path: Path) -> None:
    root = (str(tmp_path / "store") if where == "local"
            else f"s3://{request.getfixturevalue('s3_bucket')}/runs")
    proc = run_local(case.flow_file, root, case.params)
    assert proc.returncode == 0, proc.stderr
    pathspec = proc.stdout.strip().splitlines()[-1]
    assert pathspec.startswith(proc.stderr.split("Run ")[1].split("/")[0] + "/")
    data = end_data(root, pathspec)
    for name, value in case.expect.items():
        assert data[name] == value, name
