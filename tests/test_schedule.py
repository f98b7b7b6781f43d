"""Schedule expressions are validated locally with EventBridge's rules (moto accepts anything)."""

from __future__ import annotations

import pytest

from sfncompile.parser.schedule import ScheduleError, validate_schedule

VALID = [
    "cron(0 6 * * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(0 8-17 ? * MON-FRI *)",
    "cron(30 2 L * ? *)",  # last day of the month
    "cron(0 9 LW * ? *)",  # last weekday of the month
    "cron(0 9 15W * ? *)",  # weekday nearest the 15th
    "cron(0 10 ? * 6L *)",  # last Friday
    "cron(0 10 ? * 2#1 *)",  # first Monday
    "cron(0 10 ? * MON#3 2027)",
    "cron(5,35 14 * JAN,JUL ? 2026-2030)",
    "cron(0 0 1 */3 ? *)",
    "cron(59 23 31 12 ? 2199)",
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(7 days)",
]

INVALID = [
    ("cron(0 6 * * * *)", "exactly one of day-of-month ('*') and day-of-week ('*') must be '?'"),
    ("cron(0 6 ? * ? *)", "exactly one of day-of-month ('?') and day-of-week ('?') must be '?'"),
    ("cron(0 6 * * ?)", "expected 6 fields"),
    ("cron(0 6 * * ? * *)", "day-of-week year), got 7"),
    ("cron(60 6 * * ? *)", "minutes field '60': 60 is out of range 0-59"),
    ("cron(0 24 * * ? *)", "hours field '24': 24 is out of range 0-23"),
    ("cron(0 6 0 * ? *)", "day-of-month field '0': 0 is out of range 1-31"),
    ("cron(0 6 32 * ? *)", "day-of-month field '32': 32 is out of range 1-31"),
    ("cron(0 6 * 13 ? *)", "month field '13': 13 is out of range 1-12"),
    ("cron(0 6 * FOO ? *)", "month field 'FOO': 'FOO' is not a value"),
    ("cron(0 6 ? * 8 *)", "day-of-week field '8': 8 is out of range 1-7"),
    ("cron(0 6 ? * MON#6 *)", "day-of-week field 'MON#6': the week number after '#' must be 1-5"),
    ("cron(0 6 ? * 9L *)", "day-of-week field '9L': 9 before 'L' is out of range 1-7"),
    ("cron(0 6 40W * ? *)", "day-of-month field '40W': 40 before 'W' is out of range 1-31"),
    ("cron(0 6 * * ? 1969)", "year field '1969': 1969 is out of range 1970-2199"),
    ("cron(0/0 6 * * ? *)", "minutes field '0/0': the increment after '/' must be a positive"),
    ("cron(0 6 L ? * *)", "month field '?': '?' is only allowed in day-of-month or day-of-week"),
    ("cron(x 6 * * ? *)", "minutes field 'x': 'x' is not a value: expected 0-59"),
    ("cron(0 6 1, * ? *)", "day-of-month field '1,': empty list element"),
    ("cron(0 6 ? * MON-FOO *)", "day-of-week field 'MON-FOO': 'FOO' is not a value"),
    ("rate(1 minutes)", "use '1 minute' (singular for 1, plural otherwise)"),
    ("rate(5 minute)", "use '5 minutes'"),
    ("rate(0 days)", "the value must be a positive integer"),
    ("rate(-1 days)", "expected 'rate(<positive integer> minute(s)|hour(s)|day(s))'"),
    ("rate(2 weeks)", "expected 'rate(<positive integer> minute(s)|hour(s)|day(s))'"),
    ("at(2026-01-01T00:00:00)", "must be 'cron(<6 fields>)' or 'rate(<n> <unit>)'"),
    ("0 6 * * ? *", "must be 'cron(<6 fields>)' or 'rate(<n> <unit>)'"),
]


@pytest.mark.parametrize("expression", VALID)
def test_valid_expressions_are_accepted(expression: str) -> None:
    assert validate_schedule(expression) == expression


@pytest.mark.parametrize(("expression", "message"), INVALID, ids=[e for e, _ in INVALID])
def test_invalid_expressions_name_the_bad_field(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        validate_schedule(expression)
    assert message in str(info.value)


def test_corpus_sizes() -> None:
    assert len(INVALID) >= 20 and len(VALID) >= 10
    assert any("L" in e for e in VALID) and any("W" in e for e in VALID)
    assert any("#" in e for e in VALID)


@pytest.mark.parametrize(
    ("arguments", "expression"),
    [
        ("cron=None", "cron(0 0 * * ? *)"),  # Metaflow's default: daily
        ("cron=None, hourly=True", "cron(0 * * * ? *)"),
        ("cron='0 6 * * ? *', daily=False", "cron(0 6 * * ? *)"),
        ("weekly=True", "cron(0 0 ? * SUN *)"),
    ],
)
def test_schedule_arguments_as_metaflow_reads_them(arguments: str, expression: str) -> None:
    from sfncompile.parser import parse_source

    source = (
        "from sfncompile import FlowSpec, schedule, step\n\n\n"
        f"@schedule({arguments})\nclass S(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    flow = parse_source(source, "flow.py")
    assert flow.schedule is not None and flow.schedule.expression == expression
