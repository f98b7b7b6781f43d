"""Imported once by the task fork server: what every task needs, loaded before the fork."""

import sfncompile.runtime.__main__
import sfncompile.runtime.task  # noqa: F401

try:
    import boto3

    # Creating one client loads and caches the S3 service model for every forked task.
    boto3.session.Session().client("s3", region_name="us-east-1")
except Exception:  # pragma: no cover - boto3 is a dependency, but a task may not need it
    pass
