"""The parity flows that use AWS (`@secrets`, the `metaflow.S3` subset) run under sfncompile
and under Metaflow 2.19 against the same moto server, with the same artifacts in every task.

Metaflow's S3 needs an S3 root (its DATATOOLS_S3ROOT, on moto); sfncompile's runs on its
local datastore, so the same file also proves that the subset works on a local root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3

from tests.parity.corpus import compare_runs
from tests.parity.harness import MetaflowJob, MetaflowRun, run_sfncompile, sfncompile_tasks

FLOWS = Path(__file__).resolve().parent / "parity" / "aws_flows"
SECRET = {"DB_USER": "ada", "DB_PORT": "5432"}


def test_aws_flows_match_metaflow(moto_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    boto3.client("secretsmanager", endpoint_url=moto_endpoint).create_secret(
        Name="parity/db-credentials", SecretString=json.dumps(SECRET))
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    files = sorted(FLOWS.glob("*.py"))
    assert {f.stem for f in files} == {"s3_subset", "secrets_step"}
    job = MetaflowJob([MetaflowRun(f.stem, f) for f in files], tmp_path / "metaflow", env={
        **aws, "METAFLOW_DATATOOLS_S3ROOT": f"s3://{s3_bucket}/metaflow",
        "METAFLOW_S3_ENDPOINT_URL": moto_endpoint,
        "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "aws-secrets-manager"})
    problems = []
    for flow in files:
        root = tmp_path / "sfncompile"
        proc = run_sfncompile(flow, root, env=aws)
        if proc.returncode != 0:
            problems.append(f"{flow.stem}: sfncompile run failed:\n{proc.stderr[-3000:]}")
            continue
        try:
            theirs = job.tasks(flow.stem)
        except AssertionError as exc:
            problems.append(f"{flow.stem}: {exc}")
            continue
        problems += [f"{flow.stem}: {d}"
                     for d in compare_runs(flow.stem, sfncompile_tasks(proc, root), theirs)]
    job.results()
    assert not problems, "\n".join(problems)
    assert theirs  # Metaflow's runs were read, not only sfncompile's
