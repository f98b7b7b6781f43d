"""A real moto server (HTTP on 127.0.0.1, a free port) for the whole test session.

The fixture also points every boto3 client at it through the environment, so code under test
and the child processes it starts (tasks, runners) need no test-only switch.

It is moto's own server with two patches of `sfncompile dev-aws` (sfncompile/devaws/README.md):
`s3conditional`, because moto's conditional PutObject is not atomic and run tags are changed
by compare-and-swap (tests/test_tags.py), and `routes`, which only saves CPU per request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

_START_TIMEOUT = 60.0
_SERVE = ("import sys; from sfncompile.devaws.server import patch_routes, patch_s3_conditional; "
          "patch_s3_conditional(); patch_routes(); "
          "from moto.server import main; main(sys.argv[1:])")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log_path: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as log:
                raise RuntimeError(f"moto server exited with {proc.returncode}:\n{log.read()}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on {url} within {_START_TIMEOUT}s")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = str(tmp_path_factory.mktemp("moto") / "server.log")
    # MOTO_PORT: moto's Step Functions engine calls S3 and Batch back on this port.
    server_env = {**os.environ, "MOTO_PORT": str(port)}
    argv = [sys.executable, "-c", _SERVE, "-H", "127.0.0.1", "-p", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=server_env)
    try:
        _wait_until_up(url, proc, log_path)
        with pytest.MonkeyPatch.context() as env:
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
                env.delenv(name, raising=False)
            env.setenv("AWS_ACCESS_KEY_ID", "testing")
            env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            env.setenv("AWS_DEFAULT_REGION", "us-east-1")
            env.setenv("AWS_ENDPOINT_URL", url)
            yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
