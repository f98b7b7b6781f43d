"""Schedule expressions, validated locally with EventBridge's rules.

The AWS emulators accept any `cron(...)`, and real AWS only complains at deploy time, so a bad
expression is caught here, at build time, with the offending field named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    specials: str  # allowed beyond , - * /
    names: tuple[str, ...] = ()  # symbolic values, numbered from `low`


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS = (
    _Field("minutes", 0, 59, ""),
    _Field("hours", 0, 23, ""),
    _Field("day-of-month", 1, 31, "?LW"),
    _Field("month", 1, 12, "", _MONTHS),
    _Field("day-of-week", 1, 7, "?L#", _DAYS),
    _Field("year", 1970, 2199, ""),
)
_RATE = re.compile(r"rate\(([0-9]{1,9}) (minute|minutes|hour|hours|day|days)\)")
_NUMBER = re.compile(r"[0-9]{1,4}")  # ASCII digits only: str.isdigit() also accepts '²'


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None

DAILY = "cron(0 0 * * ? *)"
HOURLY = "cron(0 * * * ? *)"
WEEKLY = "cron(0 0 ? * SUN *)"


def validate_schedule(expression: str) -> str:
    """Return the expression unchanged if EventBridge would accept it, else raise ScheduleError."""
    text = expression.strip()
    if text.startswith("rate("):
        _check_rate(text)
    elif text.startswith("cron(") and text.endswith(")"):
        _check_cron(text[5:-1])
    else:
        raise ScheduleError(
            f"schedule {expression!r} must be 'cron(<6 fields>)' or 'rate(<n> <unit>)'"
        )
    return text


def timezone_problem(name: str) -> str | None:
    """Why EventBridge Scheduler would refuse the time zone `name`, or None. Checked with
    zoneinfo when this machine has a time zone database to check against."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if zoneinfo.available_timezones():
            return "is not an IANA time zone (such as Europe/Paris or America/New_York)"
    return None


def _check_rate(text: str) -> None:
    m = _RATE.fullmatch(text)
    if not m:
        raise ScheduleError(
            f"{text}: expected 'rate(<positive integer> minute(s)|hour(s)|day(s))' with at "
            "most 9 digits"
        )
    value, unit = int(m.group(1)), m.group(2)
    if value <= 0:
        raise ScheduleError(f"{text}: the value must be a positive integer")
    if (value == 1) != (not unit.endswith("s")):
        want = unit.rstrip("s") if value == 1 else unit + "s"
        raise ScheduleError(f"{text}: use '{value} {want}' (singular for 1, plural otherwise)")


def _check_cron(body: str) -> None:
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"cron({body}): expected 6 fields (minutes hours day-of-month month day-of-week "
            f"year), got {len(parts)}"
        )
    for field, value in zip(_FIELDS, parts, strict=True):
        problem = _field_problem(field, value)
        if problem:
            raise ScheduleError(f"cron({body}): {field.name} field {value!r}: {problem}")
    dom, dow = parts[2], parts[4]
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(
            f"cron({body}): exactly one of day-of-month ({dom!r}) and day-of-week ({dow!r}) "
            "must be '?'"
        )


def _field_problem(field: _Field, value: str) -> str | None:
    if value == "?":
        if "?" in field.specials:
            return None
        return "'?' is only allowed in day-of-month or day-of-week"
    if value == "*":
        return None
    if field.name == "day-of-month" and value in ("L", "LW"):
        return None
    for item in value.split(","):
        problem = _item_problem(field, item)
        if problem:
            return problem
    return None


def _item_problem(field: _Field, item: str) -> str | None:
    if not item:
        return "empty list element"
    if field.name == "day-of-month" and item.endswith("W"):
        return _number_problem(field, item[:-1], "before 'W'")
    if field.name == "day-of-week" and item.endswith("L") and item != "L":
        return _number_problem(field, item[:-1], "before 'L'")
    if field.name == "day-of-week" and item == "L":
        return None
    if field.name == "day-of-week" and "#" in item:
        day, _, nth = item.partition("#")
        if not _is_number(nth) or not 1 <= int(nth) <= 5:
            return f"the week number after '#' must be 1-5, got {nth!r}"
        return _number_problem(field, day, "before '#'")
    base, slash, step = item.partition("/")
    if slash:
        if not _is_number(step) or int(step) == 0:
            return f"the increment after '/' must be a positive integer, got {step!r}"
        if base == "*":
            return None
    low, dash, high = base.partition("-")
    problem = _number_problem(field, low, "")
    if problem or not dash:
        return problem
    return _number_problem(field, high, "")


def _number_problem(field: _Field, text: str, where: str) -> str | None:
    upper = text.upper()
    if upper in field.names:
        return None
    suffix = f" {where}" if where else ""
    if not _is_number(text):
        allowed = f"{field.low}-{field.high}"
        if field.names:
            allowed += f" or {field.names[0]}-{field.names[-1]}"
        specials = " ".join([",", "-", "*", "/", *field.specials])
        return f"{text!r}{suffix} is not a value: expected {allowed} (or one of {specials})"
    if not field.low <= int(text) <= field.high:
        return f"{text}{suffix} is out of range {field.low}-{field.high}"
    return None
