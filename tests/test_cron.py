"""Cron validation (the server's rules) and next fire times, including across DST changes."""

from __future__ import annotations

import datetime

import pytest

from inngest_dsl.spec._cron import next_fire, validate_cron

UTC = datetime.timezone.utc


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC)


def _long_but_valid(length: int) -> str:
    head = "0 9 * * "
    body = ",".join(["1"] * ((length - len(head) + 1) // 2))
    expr = head + body
    assert len(expr) == length
    return expr


@pytest.mark.parametrize(
    "expr",
    [
        "* * * * *",
        "0 9 * * *",
        "*/15 * * * *",
        "0 9 * * MON-FRI",
        "0 9 * * mon,wed,fri",
        "0 0 1 JAN,JUL *",
        "5-10/2 0-23/6 1-15 */2 0",
        "0 9 ? * *",
        "  0 9 * * *  ",
        "0\t9 * * *",
        "TZ=Europe/Paris 0 9 * * *",
        "CRON_TZ=America/New_York 30 2 * * *",
        "TZ=UTC * * * * *",
        "TZ=Asia/Kolkata 0 0 1 * *",
        _long_but_valid(255),
    ],
)
def test_validate_cron_accepts(expr: str) -> None:
    assert validate_cron(expr) is None


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("", "has 0 fields"),
        ("* * * *", "has 4 fields"),
        ("* * * * * * *", "has 7 fields"),
        ("0 9 * * * *", "seconds field is not supported"),
        ("0 0 9 * * *", "seconds field is not supported"),
        ("@daily", "descriptors like '@daily' are not supported"),
        ("@every 5m", "descriptors"),
        ("TZ=Europe/Paris @hourly", "descriptors"),
        ("60 * * * *", "out of range"),
        ("0 24 * * *", "out of range"),
        ("0 9 32 * *", "out of range"),
        ("0 9 * 13 *", "out of range"),
        ("0 9 0 * *", "out of range"),
        ("0 9 * * 8", "out of range"),
        ("*/0 * * * *", "out of range or malformed"),
        ("0 9 L * *", "bad day of month field 'L'"),
        ("0 9 15W * *", "bad day of month field '15W'"),
        ("0 9 * * 1#2", "bad day of week field '1#2'"),
        ("0 9 * * 5L", "bad day of week field '5L'"),
        ("H * * * *", "bad minute field 'H'"),
        ("0 9 * FOO *", "bad month field 'FOO'"),
        ("0 9 * * MON-FOO", "bad day of week field"),
        ("0 9 * MON *", "bad month field 'MON'"),
        ("0 9 * * JAN", "bad day of week field 'JAN'"),
        ("0 nine * * *", "bad hour field 'nine'"),
        ("TZ=Mars/Olympus_Mons 0 9 * * *", "unknown time zone 'Mars/Olympus_Mons'"),
        ("CRON_TZ=EST5EDT_nope 0 9 * * *", "unknown time zone"),
        ("TZ=../../etc/passwd 0 9 * * *", "unknown time zone"),
        ("TZ= 0 9 * * *", "empty time zone"),
        ("TZ=Europe/Paris", "has 0 fields"),
        ("tz=UTC 0 9 * * *", "unknown prefix"),
        ("ZONE=UTC 0 9 * * *", "unknown prefix"),
        (_long_but_valid(257), "longer than 255 characters"),
    ],
)
def test_validate_cron_rejects(expr: str, problem: str) -> None:
    message = validate_cron(expr)
    assert message is not None
    assert problem in message
    assert "\n" not in message
    assert message.startswith("invalid cron ")
    if len(expr) <= 255:
        assert repr(expr) in message


def test_validate_cron_rejects_non_strings() -> None:
    message = validate_cron(5)  # type: ignore[arg-type]
    assert message is not None
    assert "expected a str" in message


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 9 * * *", utc(2026, 1, 1, 8), utc(2026, 1, 1, 9)),
        # strictly after: a fire time equal to `after` is not returned
        ("0 9 * * *", utc(2026, 1, 1, 9), utc(2026, 1, 2, 9)),
        ("0 9 * * *", utc(2026, 1, 1, 9) + datetime.timedelta(microseconds=1), utc(2026, 1, 2, 9)),
        ("*/15 * * * *", utc(2026, 1, 1, 10, 7), utc(2026, 1, 1, 10, 15)),
        ("* * * * *", utc(2026, 12, 31, 23, 59), utc(2027, 1, 1, 0, 0)),
        ("0 9 * * MON", utc(2026, 1, 1), utc(2026, 1, 5, 9)),  # 2026-01-01 is a Thursday
        ("0 0 29 2 *", utc(2026, 1, 1), utc(2028, 2, 29)),
        # zone prefix: wall-clock 09:00 in the zone
        ("TZ=Europe/Paris 0 9 * * *", utc(2026, 1, 10), utc(2026, 1, 10, 8)),
        ("TZ=Europe/Paris 0 9 * * *", utc(2026, 7, 10), utc(2026, 7, 10, 7)),
        ("CRON_TZ=Asia/Kolkata 0 9 * * *", utc(2026, 1, 10), utc(2026, 1, 10, 3, 30)),
    ],
)
def test_next_fire(expr: str, after: datetime.datetime, expected: datetime.datetime) -> None:
    fire = next_fire(expr, after)
    assert fire == expected
    assert fire.utcoffset() == datetime.timedelta(0)


def _fires(expr: str, after: datetime.datetime, count: int) -> list[datetime.datetime]:
    fires = []
    for _ in range(count):
        after = next_fire(expr, after)
        fires.append(after)
    return fires


def test_next_fire_follows_paris_spring_forward() -> None:
    # Europe/Paris moves from UTC+1 to UTC+2 at 02:00 on 2026-03-29.
    fires = _fires("TZ=Europe/Paris 0 9 * * *", utc(2026, 3, 27, 12), 3)
    assert fires == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)]


def test_next_fire_follows_paris_fall_back() -> None:
    # Europe/Paris moves from UTC+2 back to UTC+1 at 03:00 on 2026-10-25.
    fires = _fires("TZ=Europe/Paris 0 9 * * *", utc(2026, 10, 23, 12), 3)
    assert fires == [utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)]


def test_next_fire_in_new_york_spring_forward_gap() -> None:
    # 02:30 does not exist in New York on 2026-03-08 (02:00 EST -> 03:00 EDT): croniter fires at
    # the end of the gap, 03:00 EDT, then at 02:30 EDT on the following days.
    fires = _fires("CRON_TZ=America/New_York 30 2 * * *", utc(2026, 3, 7, 12), 3)
    assert fires == [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_next_fire_in_new_york_repeated_hour() -> None:
    # 01:30 happens twice in New York on 2026-11-01 (EDT, then EST); both are fire times.
    fires = _fires("TZ=America/New_York 30 1 * * *", utc(2026, 10, 31, 12), 3)
    assert fires == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 6, 30)]


def test_next_fire_reads_naive_and_offset_after() -> None:
    assert next_fire("0 9 * * *", datetime.datetime(2026, 1, 1, 8)) == utc(2026, 1, 1, 9)
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    after = datetime.datetime(2026, 1, 1, 10, tzinfo=plus_two)  # 08:00 UTC
    assert next_fire("0 9 * * *", after) == utc(2026, 1, 1, 9)


@pytest.mark.parametrize("expr", ["@daily", "0 9 * * * *", "TZ=No/City 0 9 * * *", "0 9 L * *"])
def test_next_fire_rejects_invalid(expr: str) -> None:
    with pytest.raises(ValueError, match="invalid cron") as info:
        next_fire(expr, utc(2026, 1, 1))
    assert repr(expr) in str(info.value)


def test_next_fire_rejects_schedules_that_never_fire() -> None:
    with pytest.raises(ValueError, match="has no fire time"):
        next_fire("0 0 30 2 *", utc(2026, 1, 1))
