"""A local @retry waits minutes_between_retries before the next attempt, as the ASL Retry's
IntervalSeconds does on AWS (Metaflow's local runtime does not wait), while the other tasks
go on; SFNCOMPILE_RETRY_WAIT_SCALE scales the wait (0: at once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sfncompile.cli import main
from sfncompile.errors import UsageError
from sfncompile.local.runner import retry_wait_scale

pytestmark = pytest.mark.slow

# flaky fails its first attempt; other, its sibling, must not wait for flaky's retry.
FLOW = '''
import os
import time

from sfncompile import FlowSpec, current, retry, step


def stamp(what):
    with open(os.environ["STAMPS"], "a") as out:
        out.write(f"{what} {time.time()}\\n")


class WaitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky, self.other)

    @retry(times=1, minutes_between_retries=1)
    @step
    def flaky(self):
        stamp(f"flaky{current.retry_count}")
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.next(self.join)

    @step
    def other(self):
        stamp("other")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

WAIT = 60 * 0.02  # minutes_between_retries=1 at the scale the test sets


def _run(tmp: Path, scale: str) -> tuple[dict[str, float], str]:
    """Run the flow on one worker, so that `other` starts only when `flaky` lets it."""
    run_dir = tmp / f"scale-{scale}"
    run_dir.mkdir()
    (run_dir / "flow.py").write_text(FLOW)
    env = {**os.environ, "STAMPS": str(run_dir / "stamps"), "SFNCOMPILE_RETRY_WAIT_SCALE": scale}
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "run", "flow.py", "--max-workers",
                           "1", "--datastore-root", "store"], capture_output=True, text=True,
                          cwd=run_dir, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    stamps = dict(line.split() for line in (run_dir / "stamps").read_text().splitlines())
    return {what: float(when) for what, when in stamps.items()}, proc.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, float], str]]:
    tmp = tmp_path_factory.mktemp("retry-wait")
    return {scale: _run(tmp, scale) for scale in ("0.02", "0")}


def test_the_retry_waits_and_the_other_tasks_go_on(
        runs: dict[str, tuple[dict[str, float], str]]) -> None:
    stamps, err = runs["0.02"]
    assert "flaky/1-0: attempt 0 failed (exit 1); retrying in 1.2s" in err
    assert stamps["flaky1"] - stamps["flaky0"] >= WAIT
    # other started in flaky's wait, on the worker flaky left free
    assert stamps["flaky0"] < stamps["other"] < stamps["flaky1"]


def test_a_zero_scale_retries_at_once(runs: dict[str, tuple[dict[str, float], str]]) -> None:
    stamps, err = runs["0"]
    assert "flaky/1-0: attempt 0 failed (exit 1); retrying\n" in err
    assert stamps["flaky1"] - stamps["flaky0"] < WAIT


def test_a_bad_scale_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for scale in ("-1", "nan", "inf", "soon"):
        monkeypatch.setenv("SFNCOMPILE_RETRY_WAIT_SCALE", scale)
        with pytest.raises(UsageError, match=r"expected a number >= 0"):
            retry_wait_scale()
    monkeypatch.setenv("SFNCOMPILE_RETRY_WAIT_SCALE", "soon")  # and `run` says so, at once
    (tmp_path / "flow.py").write_text(FLOW)
    result = CliRunner().invoke(
        main, ["run", str(tmp_path / "flow.py"), "--datastore-root", str(tmp_path / "store")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: SFNCOMPILE_RETRY_WAIT_SCALE='soon': expected "
                                    "a number >= 0"), result.stderr
