"""`sfncompile dev-aws`: the README's command sequence run as written against it, RedriveExecution
(a failed run redriven reuses what succeeded), and the error without the pinned moto.

The session's `sfn_endpoint` is `python -m sfncompile dev-aws` (tests/moto_sfn/fixture.py): the
tests use that server and the environment it printed rather than starting another.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.deployment import Deployment
from tests.moto_sfn import SfnEndpoint

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- dev-aws sequence -->"


def readme_sequence() -> str:
    """The shell block that follows the marker in the README's "Try the AWS side locally"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return block


@pytest.mark.slow
def test_readme_sequence_runs_against_dev_aws(sfn_endpoint: SfnEndpoint) -> None:
    exports = sfn_endpoint.exports
    assert exports["AWS_ENDPOINT_URL"] == sfn_endpoint.url
    assert exports["SFNCOMPILE_S3_ROOT"].startswith("s3://")
    env = {**sfn_endpoint.subprocess_env(), **exports}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_sequence()], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, (proc.stdout, proc.stderr, sfn_endpoint.job_logs()[-3000:])
    assert ": SUCCEEDED" in proc.stdout, proc.stdout
    for name in ("Ada", "Grace", "Linus"):  # `logs` of the greet tasks, read from S3
        assert f"Hello, {name}!" in proc.stdout, proc.stdout


def test_the_extra_pins_the_moto_that_the_patches_were_read_against() -> None:
    import tomllib

    from sfncompile.devaws.server import MOTO_VERSION

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["optional-dependencies"]["dev-aws"] == [f"moto[server]=={MOTO_VERSION}"]
    assert "sfncompile[dev-aws]" in project["optional-dependencies"]["test"]


@pytest.mark.slow
def test_dev_aws_refuses_another_moto(tmp_path: Path) -> None:
    """A moto other than the pinned one (here a distribution that says 0.0, first on the
    path) is refused before anything starts, naming the extra to install."""
    info = tmp_path / "moto-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: moto\nVersion: 0.0\n")
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "dev-aws", "--port", "1"],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "found moto 0.0" in proc.stderr
    assert "pip install 'sfncompile[dev-aws]'" in proc.stderr
    assert "Traceback" not in proc.stderr


REDRIVE_FLOW = textwrap.dedent('''
    import uuid
    from pathlib import Path

    from sfncompile import FlowSpec, Parameter, step


    def mark(where, what):
        """One file per task run, so that the test counts the runs."""
        Path(where, f"{what}-{uuid.uuid4().hex}").touch()


    class RedriveFlow(FlowSpec):
        marks = Parameter("marks", default="")

        @step
        def start(self):
            mark(self.marks, "start")
            self.items = [1, 2]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            mark(self.marks, f"work{self.input}")
            if self.input == 2 and not Path(self.marks, "fixed").exists():
                raise RuntimeError("not fixed yet")
            self.doubled = self.input * 2
            self.next(self.join)

        @step
        def join(self, inputs):
            mark(self.marks, "join")
            self.total = sum(i.doubled for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            mark(self.marks, "end")
''')


def _runs(marks: Path) -> Counter[str]:
    return Counter(p.name.split("-")[0] for p in marks.iterdir() if p.name != "fixed")


def failed_steps(run_id: str) -> list[str]:
    """What `sfncompile status RedriveFlow RUN` names as the failed steps."""
    from sfncompile.deploy.aws import AwsClients
    from sfncompile.deploy.ops import describe_run

    steps: list[str] = describe_run(AwsClients(), "RedriveFlow", run_id)["failed_steps"]
    return steps


@pytest.mark.slow
@pytest.mark.usefixtures("s3_env")
def test_redrive_reuses_what_succeeded(deployment: Deployment, tmp_path: Path) -> None:
    flow = tmp_path / "redrive_flow.py"
    flow.write_text(REDRIVE_FLOW)
    marks = tmp_path / "marks"
    marks.mkdir()
    deployment.deploy(flow)
    run_id = deployment.trigger(flow, {"marks": str(marks)})
    first = deployment.wait("RedriveFlow", run_id)
    assert first["status"] == "FAILED", first
    assert first["redriveCount"] == 0 and first["redriveStatus"] == "REDRIVABLE", first
    assert failed_steps(run_id) == ["work"]
    assert _runs(marks) == {"start": 1, "work1": 1, "work2": 1}

    (marks / "fixed").touch()
    proc = deployment.cli("redrive", f"RedriveFlow/{run_id}")
    assert proc.returncode == 0, proc.stderr
    second = deployment.wait("RedriveFlow", run_id)
    assert second["status"] == "SUCCEEDED", (second, deployment.sfn.job_logs()[-4000:])
    assert second["redriveCount"] == 1, second
    # start and the first foreach task succeeded before: they were reused, not run again.
    assert _runs(marks) == {"start": 1, "work1": 1, "work2": 2, "join": 1, "end": 1}

    assert failed_steps(run_id) == []  # `status`: the failure was the first attempt's

    sfn = deployment.sfn.client("stepfunctions")
    with pytest.raises(ClientError, match="ExecutionNotRedrivable"):  # a succeeded run
        sfn.redrive_execution(executionArn=second["executionArn"])
    history = sfn.get_execution_history(executionArn=second["executionArn"],
                                        maxResults=1000)["events"]
    redriven = [e for e in history if e["type"] == "ExecutionRedriven"]
    assert [e["executionRedrivenEventDetails"]["redriveCount"] for e in redriven] == [1]
    assert history[0]["type"] == "ExecutionStarted"  # one history, the same execution

    # The run record still says failed (the Failed state wrote it, and a redrive does not
    # run `Init run` again), but the end task's commit says the run succeeded.
    shown = deployment.cli("show", f"RedriveFlow/{run_id}", "--datastore-root", deployment.root)
    assert shown.returncode == 0, shown.stderr
    assert f"RedriveFlow/{run_id}: succeeded" in shown.stdout, shown.stdout
