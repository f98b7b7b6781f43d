"""Which arm of a switch a task takes, matched as Metaflow matches it.

Metaflow looks the condition's value up in the dict given to `self.next` (`value in arms`):
Python equality, so the value 2 takes the arm `2` (and `2.0`), never the arm `"2"`. The
compiled flow names each arm by its key as text (`str(key)`), which is what the task writes
as its control value and what the state machine's Choice compares with StringEquals.
"""

from __future__ import annotations

from typing import Any

from sfncompile.flow.flowspec import Transition


def switch_arm(value: Any, transition: Transition | None, cases: dict[str, str]) -> str | None:
    """The text of the arm `value` selects, or None when it selects none. Without the keys of
    a `self.next` call (a transition the runtime took for the step), the value's text is
    looked up among the compiled arms."""
    if transition is None or not transition.keys:
        text = str(value)
        return text if text in cases else None
    try:
        arms = {key: str(key) for key in transition.keys}
        arm = arms.get(value)
    except TypeError:  # an unhashable value matches no key, as in Metaflow (which raises)
        return None
    return arm if arm in cases else None
