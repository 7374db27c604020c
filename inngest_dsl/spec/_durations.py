"""Durations ("time strings" such as ``1h30m``) and instants, as the Inngest server reads them.

Durations follow the server's ``go-str2duration`` grammar: one or more
``<number>[.<fraction>]<unit>`` parts, units ``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``,
``d`` (24 h) and ``w`` (168 h).
Instants accept the layouts the executor accepts for ``sleepUntil`` (RFC 3339, RFC 1123, RFC 822,
RFC 850, Ruby, Unix and ANSI C dates, ``2006-01-02T15:04:05`` and ``2006-01-02``), and Go's
year-less ``Stamp`` layouts (``Jan  2 15:04:05``, with an optional fraction as in ``StampMilli``):
a stamp names that moment of every year, and is read as the next one, in UTC, at or after the
time it is read (when a run reaches the sleep).
"""

from __future__ import annotations

import contextvars
import datetime
import re
from collections.abc import Callable
from fractions import Fraction

__all__ = [
    "CLOCK",
    "current_time",
    "deadline_from",
    "format_duration",
    "format_instant",
    "parse_duration",
    "parse_instant",
    "yearless_stamp",
]

_UTC = datetime.timezone.utc

# ---------------------------------------------------------------------------------------------
# Durations

_NS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 MICRO SIGN
    "μs": 1_000,  # U+03BC GREEK SMALL LETTER MU, which Go also accepts
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3_600 * 1_000_000_000,
    "d": 86_400 * 1_000_000_000,
    "w": 7 * 86_400 * 1_000_000_000,
}
# Longest units first so that "ms" is not read as "m" followed by a stray "s".
_UNIT_PATTERN = "|".join(sorted(map(re.escape, _NS_PER_UNIT), key=len, reverse=True))
_DURATION_PART = re.compile(rf"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)({_UNIT_PATTERN})")
_DURATION_HINT = (
    "expected a number followed by a unit (ns, us, ms, s, m, h, d, w), e.g. '30s', '1h30m', '1.5d'"
)

# Canonical output units, largest first. Weeks are deliberately not used: "8d" reads better
# than "1w1d", and the server reads both.
_FORMAT_UNITS_MS: tuple[tuple[str, int], ...] = (
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
)


def parse_duration(value: str | datetime.timedelta) -> datetime.timedelta:
    """Parse an Inngest time string such as ``"1h30m"`` or ``"1.5d"``; a timedelta passes through.

    The result is positive; precision is a microsecond (the timedelta resolution).
    Raises ``ValueError`` for malformed, zero or negative values and ``TypeError`` for other types.
    """
    if isinstance(value, datetime.timedelta):
        if value <= datetime.timedelta(0):
            raise ValueError(f"invalid duration {value!r}: must be positive")
        return value
    if not isinstance(value, str):
        raise TypeError(
            f"invalid duration {value!r}: expected a str like '30s' or a datetime.timedelta, "
            f"got {type(value).__name__}"
        )
    text = value.strip()
    if not text:
        raise ValueError(f"invalid duration {value!r}: empty; {_DURATION_HINT}")
    body = text
    if body[0] in "+-":
        if body[0] == "-":
            raise ValueError(f"invalid duration {value!r}: must be positive")
        body = body[1:]
    total_ns = Fraction(0)
    position = 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
        number, unit = match.groups()
        total_ns += Fraction(number) * _NS_PER_UNIT[unit]
        position = match.end()
    if position == 0:
        # Only reachable for a lone sign: "+".
        raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
    if total_ns == 0:
        raise ValueError(f"invalid duration {value!r}: must be positive")
    microseconds = round(total_ns / 1_000)
    if microseconds == 0:
        raise ValueError(f"invalid duration {value!r}: shorter than the 1us resolution")
    return datetime.timedelta(microseconds=microseconds)


def format_duration(value: datetime.timedelta) -> str:
    """Format a positive timedelta as a canonical time string: ``"1h30m"``, ``"1d"``, ``"1s500ms"``.

    Largest units first (days are the largest; a week is ``"7d"``), no zero parts, rounded to the
    nearest millisecond with ``"1ms"`` as the minimum. Raises ``ValueError`` for zero or negative.
    """
    if not isinstance(value, datetime.timedelta):
        raise TypeError(f"invalid duration {value!r}: expected a datetime.timedelta")
    if value <= datetime.timedelta(0):
        raise ValueError(f"invalid duration {value!r}: must be positive")
    total_us = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    remaining_ms = max(1, (total_us + 500) // 1_000)
    parts: list[str] = []
    for unit, size in _FORMAT_UNITS_MS:
        count, remaining_ms = divmod(remaining_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Instants

# Offsets for zone abbreviations. Go reads an unknown abbreviation as UTC on a UTC server; here
# the common North American ones get their real offsets and anything else is rejected.
_ZONE_ABBREVIATIONS: dict[str, str] = {
    "UTC": "+0000",
    "UT": "+0000",
    "GMT": "+0000",
    "Z": "+0000",
    "EST": "-0500",
    "EDT": "-0400",
    "CST": "-0600",
    "CDT": "-0500",
    "MST": "-0700",
    "MDT": "-0600",
    "PST": "-0800",
    "PDT": "-0700",
}
_SHORT_WEEKDAYS = frozenset(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
_LONG_WEEKDAYS = frozenset(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)

# RFC 3339 shape: date, "T", time, optional fraction, "Z" or a numeric offset. The checks on
# the values themselves are pendulum's.
_RFC3339_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
# Go reads a fraction after the seconds even when the layout has none.
_ISO_LOCAL_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?", re.ASCII)
_ISO_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)

# The executor's layouts, as Go reference strings for error messages.
_ACCEPTED_LAYOUTS = (
    "RFC 3339 '2006-01-02T15:04:05Z' or '2006-01-02T15:04:05.999+07:00'",
    "'2006-01-02T15:04:05' (UTC)",
    "RFC 1123 'Mon, 02 Jan 2006 15:04:05 MST'",
    "RFC 1123Z 'Mon, 02 Jan 2006 15:04:05 -0700'",
    "RFC 822 '02 Jan 06 15:04 MST'",
    "RFC 822Z '02 Jan 06 15:04 -0700'",
    "RFC 850 'Monday, 02-Jan-06 15:04:05 MST'",
    "Ruby 'Mon Jan 02 15:04:05 -0700 2006'",
    "Unix 'Mon Jan  2 15:04:05 MST 2006'",
    "ANSI C 'Mon Jan  2 15:04:05 2006' (UTC)",
    "'2006-01-02' (midnight UTC)",
    "Stamp 'Jan  2 15:04:05' or StampMilli 'Jan  2 15:04:05.000' (the next such instant, UTC)",
)
_ZONE_HINT = "zones: a numeric offset like -0700, or " + ", ".join(_ZONE_ABBREVIATIONS)


def _to_utc(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=_UTC)
    converted = value.astimezone(_UTC)
    # A plain stdlib datetime, whatever the input's class (pendulum returns a subclass).
    return datetime.datetime(
        converted.year,
        converted.month,
        converted.day,
        converted.hour,
        converted.minute,
        converted.second,
        converted.microsecond,
        tzinfo=_UTC,
    )


def _parse_iso(text: str) -> datetime.datetime | None:
    if not (
        _RFC3339_SHAPE.fullmatch(text)
        or _ISO_LOCAL_SHAPE.fullmatch(text)
        or _ISO_DATE_SHAPE.fullmatch(text)
    ):
        return None
    import pendulum  # on first use: it takes longer to import than the rest of this package

    parsed = pendulum.parse(text, strict=True, tz="UTC")
    if not isinstance(parsed, datetime.datetime):  # a date-only text still yields a DateTime
        return None
    return parsed


def _strip_weekday(words: list[str], names: frozenset[str], comma: bool) -> list[str] | None:
    """Drop a leading weekday. Like Go, its spelling is checked but its value is ignored."""
    if not names:
        return words
    if not words:
        return None
    first = words[0]
    if comma:
        if not first.endswith(","):
            return None
        first = first[:-1]
    if first.lower() not in names:
        return None
    return words[1:]


def _numeric_zones(words: list[str]) -> list[str]:
    return [_ZONE_ABBREVIATIONS.get(word.upper(), word) for word in words]


def _textual_parser(
    pendulum_format: str, weekdays: frozenset[str], comma: bool, four_digit_year_at: int | None
) -> Callable[[str], datetime.datetime | None]:
    def parse(text: str) -> datetime.datetime | None:
        rest = _strip_weekday(text.split(), weekdays, comma)
        if rest is None:
            return None
        # pendulum's YYYY also takes "06" (year 6); Go's layouts need all four digits.
        if four_digit_year_at is not None and not (
            len(rest) > four_digit_year_at
            and len(rest[four_digit_year_at]) == 4
            and rest[four_digit_year_at].isascii()
            and rest[four_digit_year_at].isdigit()
        ):
            return None
        # Month names are matched as written ("Jan"); normalise "JAN"/"jan" first.
        rest = [word.capitalize() if word.isalpha() and len(word) == 3 else word for word in rest]
        candidate = " ".join(_numeric_zones(rest))
        # The zone in the text wins; "UTC" only applies to the zone-less ANSI C layout.
        import pendulum

        return pendulum.from_format(candidate, pendulum_format, tz="UTC")

    return parse


# Whitespace is normalised before matching, so the space-padded day of the Unix and ANSI C
# layouts ("Jan  2") needs no special case. Zone abbreviations become numeric offsets (ZZ).
_TEXTUAL_PARSERS: tuple[Callable[[str], datetime.datetime | None], ...] = (
    # RFC 1123 / 1123Z: "Mon, 02 Jan 2006 15:04:05 MST|-0700"
    _textual_parser("D MMM YYYY HH:mm:ss ZZ", _SHORT_WEEKDAYS, comma=True, four_digit_year_at=2),
    # RFC 822 / 822Z: "02 Jan 06 15:04 MST|-0700" (no weekday)
    _textual_parser("D MMM YY HH:mm ZZ", frozenset(), comma=False, four_digit_year_at=None),
    # RFC 850: "Monday, 02-Jan-06 15:04:05 MST"
    _textual_parser("D-MMM-YY HH:mm:ss ZZ", _LONG_WEEKDAYS, comma=True, four_digit_year_at=None),
    # Ruby date "Mon Jan 02 15:04:05 -0700 2006" and Unix date "Mon Jan  2 15:04:05 MST 2006"
    _textual_parser("MMM D HH:mm:ss ZZ YYYY", _SHORT_WEEKDAYS, comma=False, four_digit_year_at=4),
    # ANSI C: "Mon Jan  2 15:04:05 2006" (no zone: UTC)
    _textual_parser("MMM D HH:mm:ss YYYY", _SHORT_WEEKDAYS, comma=False, four_digit_year_at=3),
)


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# Go's Stamp, StampMilli, StampMicro and StampNano: "Jan _2 15:04:05[.000000000]".
_STAMP_SHAPE = re.compile(
    r"([A-Za-z]{3}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?", re.ASCII
)


CLOCK: contextvars.ContextVar[Callable[[], float] | None] = contextvars.ContextVar(
    "inngest_dsl_clock", default=None
)
"""Where "now" comes from for a year-less stamp: the wall clock unless set (the testing kit
sets its virtual clock, in seconds since the epoch, around the calls it makes)."""


def current_time() -> datetime.datetime:
    """Now, in UTC, from `CLOCK`."""
    clock = CLOCK.get()
    if clock is None:
        return datetime.datetime.now(_UTC)
    return datetime.datetime.fromtimestamp(clock(), _UTC)


def yearless_stamp(value: object) -> bool:
    """Whether `value` is a year-less stamp (``"Jan  2 15:04:05"``), whose instant depends on
    when it is read."""
    if not isinstance(value, str):
        return False
    match = _STAMP_SHAPE.fullmatch(" ".join(value.split()))
    return match is not None and match.group(1).lower() in _MONTHS


def _parse_stamp(text: str, after: datetime.datetime) -> datetime.datetime | None:
    match = _STAMP_SHAPE.fullmatch(text)
    if match is None or match.group(1).lower() not in _MONTHS:
        return None
    month = _MONTHS[match.group(1).lower()]
    day, hour, minute, second = (int(match.group(i)) for i in range(2, 6))
    microsecond = int((match.group(6) or "0")[:6].ljust(6, "0"))
    after = _to_utc(after)
    # Feb 29 comes back within eight years; any other day within one.
    for year in range(after.year, after.year + 9):
        try:
            candidate = datetime.datetime(
                year, month, day, hour, minute, second, microsecond, tzinfo=_UTC
            )
        except ValueError:
            if year == after.year + 8:
                raise
            continue
        if candidate >= after:
            return candidate
    return None


def parse_instant(
    value: str | datetime.datetime | datetime.date, *, after: datetime.datetime | None = None
) -> datetime.datetime:
    """Parse an instant into an aware UTC datetime.

    Accepts every layout the Inngest executor accepts for ``sleepUntil``; a text without a zone,
    a naive datetime and a date (midnight) are UTC. A year-less stamp (``"Jan  2 15:04:05"``)
    is the next such instant at or after `after` (default: now). Raises ``ValueError`` naming
    the value and the accepted layouts, ``TypeError`` for other types.
    """
    if isinstance(value, datetime.datetime):
        return _to_utc(value)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    if not isinstance(value, str):
        raise TypeError(
            f"invalid instant {value!r}: expected a str, datetime.datetime or datetime.date, "
            f"got {type(value).__name__}"
        )
    text = " ".join(value.split())
    reference = after if after is not None else current_time()
    parsers: tuple[Callable[[str], datetime.datetime | None], ...] = (
        _parse_iso,
        *_TEXTUAL_PARSERS,
        lambda stamp: _parse_stamp(stamp, reference),
    )
    problem = ""
    for parser in parsers:
        try:
            parsed = parser(text)
        except (ValueError, OverflowError) as error:
            # Remember why a layout that matched in shape still failed (e.g. "month must be in
            # 1..12") so the message can say more than "no layout matched".
            if "does not match" not in str(error):
                problem = f" ({error})"
            continue
        if parsed is not None:
            return _to_utc(parsed)
    raise ValueError(
        f"invalid instant {value!r}{problem}: expected one of "
        + "; ".join(_ACCEPTED_LAYOUTS)
        + f"; {_ZONE_HINT}"
    )


def format_instant(value: datetime.datetime) -> str:
    """Format as RFC 3339 UTC with milliseconds and ``Z``, e.g. ``"2026-01-01T00:00:00.000Z"``.

    A naive datetime is taken as UTC; sub-millisecond digits are truncated.
    """
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"invalid instant {value!r}: expected a datetime.datetime")
    utc = _to_utc(value)
    # isoformat, not strftime: "%Y" does not zero-pad years below 1000 on every platform.
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def deadline_from(value: str, now: datetime.datetime) -> datetime.datetime:
    """Resolve a sleep/wait/invoke/cancel timeout the way the server does.

    A value of at least 10 characters that parses as an instant is absolute; anything else must
    be a duration, added to ``now`` (naive ⇒ UTC). Returns an aware UTC datetime.
    """
    if not isinstance(value, str):
        raise TypeError(
            f"invalid timeout {value!r}: expected a str duration or instant, "
            f"got {type(value).__name__}"
        )
    if len(value) >= 10:
        try:
            return parse_instant(value)
        except ValueError:
            pass
    try:
        delta = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"invalid timeout {value!r}: neither a duration (e.g. '30s', '1h30m', '1.5d') "
            "nor an instant (e.g. '2026-01-01T00:00:00Z')"
        ) from None
    return _to_utc(now) + delta
