"""The parity comparison itself: equal values compare equal, near misses do not, and a named
difference forgives only what it names."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from tests.parity.corpus import DIFFERENCES, compare_runs, compare_value
from tests.parity.normalise import normalise


class Wrapper(Exception):
    def __init__(self, trace: str) -> None:
        self.exception = "bad value 42"
        self.type = "builtins.ValueError"
        self.stacktrace = trace


def test_normalise_keeps_kinds_and_ignores_order_where_python_does() -> None:
    assert normalise((1, 2)) != normalise([1, 2])
    assert normalise(b"x") != normalise("x")
    assert normalise({3, 1, 2}) == normalise({1, 2, 3})
    assert normalise({"a": 1, "b": 2}) == normalise(OrderedDict([("b", 2), ("a", 1)]))
    assert normalise([1, 2]) != normalise([2, 1])
    assert normalise(float("nan")) == {"float": "nan"}
    assert normalise(2**80) == {"int": str(2**80)}


def _run(value: Any) -> dict[str, list[dict[str, Any]]]:
    return {"start": [{"x": normalise(value)}], "end": [{"x": normalise(value)}]}


def test_compare_runs_reports_each_difference() -> None:
    assert compare_runs("f", _run([1, 2]), _run([1, 2])) == []
    assert compare_runs("f", _run([1, 2]), _run((1, 2))) == [
        'end.x: sfncompile {"list": [1, 2]} != Metaflow {"tuple": [1, 2]}',
        'start.x: sfncompile {"list": [1, 2]} != Metaflow {"tuple": [1, 2]}']
    missing = {"start": [{}], "end": [{"x": 1}]}
    assert compare_runs("f", missing, {"start": [{"x": 1}], "end": [{"x": 1}]}) == [
        "start.x: missing under sfncompile"]
    assert compare_runs("f", {"start": [{}]}, {"start": [{}], "end": [{}]}) == [
        "steps: sfncompile ['start'] != Metaflow ['end', 'start']"]
    two = {"s": [{"i": 1}, {"i": 2}]}
    assert compare_runs("f", two, {"s": [{"i": 2}, {"i": 1}]}) == []  # tasks match by content


def test_a_named_difference_forgives_only_what_it_names() -> None:
    names = {d.name for d in DIFFERENCES}
    assert {"catch-stacktrace", "foreach-join-order-after-switch"} <= names
    ours = normalise(Wrapper("Traceback ...\n  File \"a.py\", line 3\nValueError: bad value 42\n"))
    theirs = normalise(Wrapper("Traceback ...\n  File \"b.py\", line 9\nValueError: bad value 42"))
    assert ours != theirs
    assert compare_value("catch_wrapper", "failure", ours, theirs) is None
    other = normalise(Wrapper("Traceback ...\nKeyError: 'k'\n"))
    assert "catch-stacktrace" in str(compare_value("catch_wrapper", "failure", ours, other))
    # Elsewhere the same values are simply different.
    assert compare_value("linear", "failure", ours, theirs) is not None
    assert compare_value("switch_in_foreach", "outs", normalise([10, 2]),
                         normalise([2, 10])) is None
    assert compare_value("switch_in_foreach", "outs", normalise([10, 2]),
                         normalise([2, 11])) is not None
