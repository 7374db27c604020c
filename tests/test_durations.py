"""Time strings and instants, read the way the Inngest server reads them."""

from __future__ import annotations

import datetime
import random

import pendulum
import pytest

from inngest_dsl.spec._durations import (
    deadline_from,
    format_duration,
    format_instant,
    parse_duration,
    parse_instant,
)

UTC = datetime.timezone.utc
td = datetime.timedelta


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# --- parse_duration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2s", td(seconds=2)),
        ("1h30m", td(minutes=90)),
        ("1.5d", td(hours=36)),
        ("1w", td(days=7)),
        ("300ms", td(milliseconds=300)),
        ("2h45m", td(hours=2, minutes=45)),
        ("1.5h", td(minutes=90)),
        ("0.5s", td(milliseconds=500)),
        (".5s", td(milliseconds=500)),
        ("1.s", td(seconds=1)),
        ("+5s", td(seconds=5)),
        ("1m30.25s", td(seconds=90.25)),
        ("1w1d1h1m1s1ms1us", td(days=8, hours=1, minutes=1, seconds=1, microseconds=1001)),
        ("1d1d", td(days=2)),
        ("0s1ms", td(milliseconds=1)),
        ("1us", td(microseconds=1)),
        ("1µs", td(microseconds=1)),
        ("1μs", td(microseconds=1)),
        ("2000ns", td(microseconds=2)),
        ("  10m\n", td(minutes=10)),
        ("366d", td(days=366)),
        ("0.001s", td(milliseconds=1)),
    ],
)
def test_parse_duration_accepts(text: str, expected: datetime.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10",
        "1x",
        "1h 30m",
        "1H",
        "1e3s",
        "s",
        "1.2.3s",
        "5 s",
        "\u0663s",  # ARABIC-INDIC DIGIT THREE
        "+",
        "1hh",
        "h1",
        "1h30",
        "one second",
    ],
)
def test_parse_duration_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="expected a number followed by a unit") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)
    assert "'1h30m'" in str(info.value)


@pytest.mark.parametrize("text", ["", "   "])
def test_parse_duration_rejects_empty(text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["-1s", "-1h30m", "0s", "0ms", "0.0h", "0h0m"])
def test_parse_duration_rejects_zero_and_negative(text: str) -> None:
    with pytest.raises(ValueError, match=f"'{text}': must be positive"):
        parse_duration(text)


def test_parse_duration_rejects_below_resolution() -> None:
    with pytest.raises(ValueError, match="resolution"):
        parse_duration("400ns")


def test_parse_duration_passes_timedelta_through() -> None:
    assert parse_duration(td(minutes=5)) == td(minutes=5)
    with pytest.raises(ValueError, match="must be positive"):
        parse_duration(td(0))
    with pytest.raises(ValueError, match="must be positive"):
        parse_duration(td(seconds=-1))


@pytest.mark.parametrize("value", [10, 1.5, None, True, b"1s"])
def test_parse_duration_rejects_other_types(value: object) -> None:
    with pytest.raises(TypeError, match=r"expected a str like '30s' or a datetime\.timedelta"):
        parse_duration(value)  # type: ignore[arg-type]


# --- format_duration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (td(minutes=90), "1h30m"),
        (td(days=1), "1d"),
        (td(weeks=1), "7d"),
        (td(seconds=1.5), "1s500ms"),
        (td(milliseconds=300), "300ms"),
        (td(hours=1), "1h"),
        (td(seconds=60), "1m"),
        (td(days=1, hours=1, minutes=1, seconds=1, milliseconds=1), "1d1h1m1s1ms"),
        (td(days=10, milliseconds=1), "10d1ms"),
        (td(days=400), "400d"),
        (td(microseconds=1), "1ms"),
        (td(microseconds=1499), "1ms"),
        (td(microseconds=1500), "2ms"),
        (td(seconds=59, microseconds=999_600), "1m"),
    ],
)
def test_format_duration(value: datetime.timedelta, expected: str) -> None:
    assert format_duration(value) == expected


@pytest.mark.parametrize("value", [td(0), td(microseconds=-1), td(days=-1)])
def test_format_duration_rejects_non_positive(value: datetime.timedelta) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        format_duration(value)


def _ms_rounded(value: datetime.timedelta) -> datetime.timedelta:
    total_us = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return td(milliseconds=max(1, (total_us + 500) // 1000))


def test_format_duration_round_trips_at_millisecond_precision() -> None:
    rng = random.Random(20260101)
    scales = [1, 1_000, 1_000_000, 60_000_000, 3_600_000_000, 86_400_000_000, 400 * 86_400_000_000]
    for _ in range(2_000):
        value = td(microseconds=rng.randint(1, rng.choice(scales)))
        text = format_duration(value)
        assert parse_duration(text) == _ms_rounded(value), (value, text)
        # The canonical form is a fixed point.
        assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize("text", ["1h30m", "1.5d", "1w", "90s", "2h45m", "1500ms", "1d24h"])
def test_text_round_trip_keeps_the_duration(text: str) -> None:
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


# --- parse_instant ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 3339, with Z, offsets and fractions (Go reads up to nanoseconds; we keep microseconds)
        ("2006-01-02T15:04:05Z", utc(2006, 1, 2, 15, 4, 5)),
        ("2006-01-02T15:04:05-07:00", utc(2006, 1, 2, 22, 4, 5)),
        ("2006-01-02T15:04:05.123+02:00", utc(2006, 1, 2, 13, 4, 5, 123_000)),
        ("2006-01-02T15:04:05.123456789Z", utc(2006, 1, 2, 15, 4, 5, 123_456)),
        ("2026-01-01T00:00:00.000Z", utc(2026, 1, 1)),
        ("2006-01-02T23:30:00-01:00", utc(2006, 1, 3, 0, 30)),
        # "2006-01-02T15:04:05": no zone means UTC
        ("2006-01-02T15:04:05", utc(2006, 1, 2, 15, 4, 5)),
        ("2006-01-02T15:04:05.25", utc(2006, 1, 2, 15, 4, 5, 250_000)),
        # RFC 1123 and 1123Z
        ("Mon, 02 Jan 2006 15:04:05 MST", utc(2006, 1, 2, 22, 4, 5)),
        ("Mon, 02 Jan 2006 15:04:05 GMT", utc(2006, 1, 2, 15, 4, 5)),
        ("Mon, 02 Jan 2006 15:04:05 -0700", utc(2006, 1, 2, 22, 4, 5)),
        ("Mon, 02 Jan 2006 15:04:05 +0530", utc(2006, 1, 2, 9, 34, 5)),
        # RFC 822 and 822Z (two-digit years)
        ("02 Jan 06 15:04 MST", utc(2006, 1, 2, 22, 4)),
        ("02 Jan 06 15:04 +0100", utc(2006, 1, 2, 14, 4)),
        ("02 Jan 69 15:04 UTC", utc(1969, 1, 2, 15, 4)),
        ("02 Jan 68 15:04 UTC", utc(2068, 1, 2, 15, 4)),
        # RFC 850
        ("Monday, 02-Jan-06 15:04:05 PST", utc(2006, 1, 2, 23, 4, 5)),
        ("Monday, 02-Jan-06 15:04:05 -0700", utc(2006, 1, 2, 22, 4, 5)),
        # Ruby date
        ("Mon Jan 02 15:04:05 -0700 2006", utc(2006, 1, 2, 22, 4, 5)),
        # Unix date (space-padded day)
        ("Mon Jan  2 15:04:05 EST 2006", utc(2006, 1, 2, 20, 4, 5)),
        ("Thu Dec 24 23:59:59 Z 2026", utc(2026, 12, 24, 23, 59, 59)),
        # ANSI C: no zone means UTC
        ("Mon Jan  2 15:04:05 2006", utc(2006, 1, 2, 15, 4, 5)),
        ("Sat Jan 31 01:02:03 2026", utc(2026, 1, 31, 1, 2, 3)),
        # date only: midnight UTC
        ("2006-01-02", utc(2006, 1, 2)),
        # surrounding whitespace is ignored
        ("  2006-01-02T15:04:05Z\n", utc(2006, 1, 2, 15, 4, 5)),
        # like Go, the weekday's spelling is checked but its value ignored
        ("Fri, 02 Jan 2006 15:04:05 GMT", utc(2006, 1, 2, 15, 4, 5)),
    ],
)
def test_parse_instant_layouts(text: str, expected: datetime.datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert type(parsed) is datetime.datetime


@pytest.mark.parametrize(
    ("zone", "hours"),
    [
        ("UTC", 0),
        ("GMT", 0),
        ("Z", 0),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
    ],
)
def test_parse_instant_zone_abbreviations(zone: str, hours: int) -> None:
    parsed = parse_instant(f"Wed, 01 Jul 2026 12:00:00 {zone}")
    assert parsed == utc(2026, 7, 1, 12) - td(hours=hours)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "1h30m",
        "2006-13-02",
        "2006-02-30T00:00:00Z",
        "2006-01-02T24:00:00Z",
        "2006-01-02T15:04",
        "2006-01-02T15:04:05+0200",
        "2006-01-02 15:04:05",
        "2006-01-02t15:04:05z",
        "2006/01/02",
        "20060102",
        "P1D",
        "2006-W01",
        "Mon, 02 Jan 2006 15:04:05 CET",
        "Mon, 02 Jan 06 15:04:05 -0700",
        "Mon, 02 Jan 2006 15:04:05",
        "Funday, 02-Jan-06 15:04:05 MST",
        "Mon 02 Jan 2006 15:04:05 MST",
        "Mon Jan  2 15:04:05 Europe/Paris 2006",
        "Mon Foo  2 15:04:05 2006",
        "Mon Jan  2 15:04:05 06",
    ],
)
def test_parse_instant_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid instant") as info:
        parse_instant(text)
    message = str(info.value)
    assert repr(text) in message
    assert "RFC 1123" in message
    assert "'2006-01-02'" in message


def test_parse_instant_error_explains_out_of_range_fields() -> None:
    with pytest.raises(ValueError, match=r"hour must be in 0\.\.23"):
        parse_instant("Mon, 02 Jan 2006 25:04:05 GMT")


def test_parse_instant_datetime_and_date_inputs() -> None:
    assert parse_instant(datetime.datetime(2026, 1, 1, 12)) == utc(2026, 1, 1, 12)
    plus_two = datetime.timezone(td(hours=2))
    converted = parse_instant(datetime.datetime(2026, 1, 1, 12, tzinfo=plus_two))
    assert converted == utc(2026, 1, 1, 10)
    assert converted.tzinfo is UTC
    assert parse_instant(datetime.date(2026, 3, 4)) == utc(2026, 3, 4)
    from_pendulum = parse_instant(pendulum.datetime(2026, 1, 1, 12, tz="Europe/Paris"))
    assert from_pendulum == utc(2026, 1, 1, 11)
    assert type(from_pendulum) is datetime.datetime


@pytest.mark.parametrize("value", [1_700_000_000, None, 1.5])
def test_parse_instant_rejects_other_types(value: object) -> None:
    with pytest.raises(TypeError, match=r"expected a str, datetime\.datetime or datetime\.date"):
        parse_instant(value)  # type: ignore[arg-type]


# --- format_instant -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (utc(2026, 1, 1), "2026-01-01T00:00:00.000Z"),
        (utc(2026, 1, 1, 9, 8, 7, 123_999), "2026-01-01T09:08:07.123Z"),
        (datetime.datetime(2026, 1, 1, 9, 8, 7), "2026-01-01T09:08:07.000Z"),
        (
            datetime.datetime(2026, 1, 1, 1, 0, tzinfo=datetime.timezone(td(hours=2))),
            "2025-12-31T23:00:00.000Z",
        ),
        (utc(999, 1, 2, 3, 4, 5, 6_000), "0999-01-02T03:04:05.006Z"),
    ],
)
def test_format_instant(value: datetime.datetime, expected: str) -> None:
    assert format_instant(value) == expected


def test_format_instant_round_trips_at_millisecond_precision() -> None:
    rng = random.Random(7)
    start = utc(1971, 1, 1)
    for _ in range(500):
        value = start + td(microseconds=rng.randint(0, 80 * 365 * 86_400 * 1_000_000))
        expected = value.replace(microsecond=value.microsecond // 1000 * 1000)
        assert parse_instant(format_instant(value)) == expected


# --- deadline_from ------------------------------------------------------------------------------

NOW = utc(2026, 5, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:00:00Z", utc(2026, 1, 1)),
        ("2026-06-01", utc(2026, 6, 1)),
        ("Mon, 02 Jan 2006 15:04:05 GMT", utc(2006, 1, 2, 15, 4, 5)),
        ("30s", NOW + td(seconds=30)),
        ("1h30m", NOW + td(minutes=90)),
        ("1.5d", NOW + td(hours=36)),
        # 10 or more characters, but not an instant: still a duration
        ("1h30m15s500ms", NOW + td(hours=1, minutes=30, seconds=15, milliseconds=500)),
        ("1000000000s", NOW + td(seconds=1_000_000_000)),
    ],
)
def test_deadline_from(value: str, expected: datetime.datetime) -> None:
    assert deadline_from(value, NOW) == expected


def test_deadline_from_normalises_now() -> None:
    assert deadline_from("1m", datetime.datetime(2026, 5, 1, 12)) == utc(2026, 5, 1, 12, 1)
    plus_two = datetime.timezone(td(hours=2))
    result = deadline_from("1m", datetime.datetime(2026, 5, 1, 12, tzinfo=plus_two))
    assert result == utc(2026, 5, 1, 10, 1)
    assert result.tzinfo is UTC


@pytest.mark.parametrize("value", ["soon", "10", "", "2006-01-0", "2026-13-01T00:00:00Z", "-5m"])
def test_deadline_from_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="neither a duration") as info:
        deadline_from(value, NOW)
    assert repr(value) in str(info.value)


def test_deadline_from_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="expected a str duration or instant"):
        deadline_from(td(minutes=1), NOW)  # type: ignore[arg-type]


# -- year-less stamps (Go's Stamp layouts) ----------------------------------------------------

UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jan  2 15:04:05", datetime.datetime(2027, 1, 2, 15, 4, 5, tzinfo=UTC)),
        ("Jan  2 15:04:05.250", datetime.datetime(2027, 1, 2, 15, 4, 5, 250000, tzinfo=UTC)),
        ("may 1 00:00:00", datetime.datetime(2026, 5, 1, tzinfo=UTC)),  # at `after`: now
        ("Dec 31 23:59:59", datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Feb 29 12:00:00", datetime.datetime(2028, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_a_yearless_stamp_is_the_next_such_instant(text: str, expected: datetime.datetime) -> None:
    after = datetime.datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_instant(text, after=after) == expected


def test_a_yearless_stamp_for_no_day_is_refused() -> None:
    with pytest.raises(ValueError, match="day is out of range"):
        parse_instant("Feb 30 00:00:00", after=datetime.datetime(2026, 1, 1, tzinfo=UTC))
