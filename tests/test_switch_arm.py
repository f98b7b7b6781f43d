"""A switch takes the arm Metaflow takes: the condition's value equals the key (`in` a dict)."""

from __future__ import annotations

from typing import Any

import pytest

from sfncompile.flow.flowspec import Transition
from sfncompile.runtime.switch import switch_arm

CASES = {"1": "low", "2": "high", "x": "other"}


def numbers_and_text() -> Transition:
    return Transition(("low", "high", "other"), None, "v", CASES, (1, 2, "x"))


@pytest.mark.parametrize(("value", "arm"), [
    (2, "2"), (2.0, "2"), (True, "1"), ("x", "x"),
    ("2", None), (3, None), ([2], None),  # text is not a number; unhashable matches nothing
])
def test_the_value_selects_the_arm_by_equality(value: Any, arm: str | None) -> None:
    assert switch_arm(value, numbers_and_text(), CASES) == arm


def test_without_the_keys_of_self_next_the_text_selects() -> None:
    assert switch_arm(2, None, CASES) == "2"
    assert switch_arm("nope", None, CASES) is None
