"""The largest decorator numbers AWS accepts still build, to schema-valid ASL; one more is
refused with the bound in the message (tests/data/broken/decorator_numbers_too_large.py)."""

from __future__ import annotations

import pytest

from sfncompile.emit import compile_asl
from sfncompile.emit.asl_checks import validate_asl
from sfncompile.errors import FlowErrors
from sfncompile.parser import parse_source

FLOW = """\
from sfncompile import FlowSpec, batch, foreach_options, resources, retry, step, timeout


class F(FlowSpec):
    @retry(times={times}, minutes_between_retries=1666666)
    @timeout(hours=27777, seconds={seconds})
    @resources(cpu=192, memory=25165824, gpu=16, shared_memory=25165824)
    @foreach_options(mode="distributed", max_concurrency=10000)
    @step
    def start(self):
        self.items = [1]
        self.next(self.a, foreach="items")

    @batch(cpu=0.25, memory=4)
    @step
    def a(self):
        self.next(self.j)

    @step
    def j(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_the_largest_values_aws_accepts_build() -> None:
    definition = compile_asl(parse_source(FLOW.format(times=99_999_999, seconds=2_799),
                                          "bounds.py"))
    assert validate_asl(definition) == []
    text = str(definition)
    assert "'MaxAttempts': 99999999" in text
    assert "'AttemptDurationSeconds': 100000059" in text and "TimeoutSeconds" not in text


@pytest.mark.parametrize(("times", "seconds", "message"), [
    (100_000_000, 2_799, "argument 'times' of @retry must be at most 99,999,999"),
    (99_999_999, 2_800, "@timeout adds up to 100,000,000 seconds"),
])
def test_one_more_is_refused(times: int, seconds: int, message: str) -> None:
    with pytest.raises(FlowErrors) as caught:
        parse_source(FLOW.format(times=times, seconds=seconds), "bounds.py")
    assert message in str(caught.value)
