"""--max-workers slots: tasks beyond them wait in the fork server, which starts each the moment
a slot frees. At most that many run at once, they start in the order the run reached them,
and no task starts after a failure that ends the run (as with Metaflow's runtime), while a
retried failure lets the others go on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flows import end_data, run_local

pytestmark = pytest.mark.slow

SPANS_FLOW = """\
import time
from sfncompile import FlowSpec, step


class SpansFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(6))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        began = time.time()
        time.sleep(0.05)
        self.span = (self.input, began, time.time())
        self.next(self.join)

    @step
    def join(self, inputs):
        self.spans = sorted(i.span for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""

FAILING_FLOW = """\
import os
from pathlib import Path
from sfncompile import FlowSpec, retry, step

MARKS = Path(os.environ["MARKS"])


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(5))
        self.next(self.body, foreach="items")

    @retry(times=RETRIES)
    @step
    def body(self):
        (MARKS / f"{self.input}.{os.getpid()}").touch()
        if self.input == 0 and len(list(MARKS.glob("0.*"))) == 1:
            raise RuntimeError("the first attempt of item 0 fails")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _overlap(spans: list[tuple[int, float, float]]) -> int:
    """The most spans open at one moment."""
    events = sorted([(b, 1) for _, b, _ in spans] + [(e, -1) for _, _, e in spans])
    most = now = 0
    for _, change in events:
        now += change
        most = max(most, now)
    return most


@pytest.mark.parametrize("workers", [1, 2])
def test_at_most_max_workers_tasks_run_at_once_in_order(tmp_path: Path, workers: int) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(SPANS_FLOW)
    root = str(tmp_path / "root")
    proc = run_local(flow, root, {}, "--max-workers", str(workers))
    assert proc.returncode == 0, proc.stderr
    spans = end_data(root, proc.stdout.strip().splitlines()[-1])["spans"]
    assert _overlap(spans) == workers
    if workers == 1:  # one at a time: in the order of the foreach
        assert [s[1] for s in spans] == sorted(s[1] for s in spans)


@pytest.mark.parametrize("retries", [0, 1])
def test_a_failure_that_ends_the_run_starts_nothing_more(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         retries: int) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FAILING_FLOW.replace("RETRIES", str(retries)))
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("MARKS", str(marks))
    proc = run_local(flow, str(tmp_path / "root"), {}, "--max-workers", "1")
    started = sorted(p.name.split(".")[0] for p in marks.iterdir())
    if retries:  # the retry lets the waiting tasks go on: every item ran, item 0 twice
        assert proc.returncode == 0, proc.stderr
        assert started == ["0", "0", "1", "2", "3", "4"]
    else:  # the tasks that waited for a slot never started
        assert proc.returncode != 0
        assert started == ["0"], proc.stderr
