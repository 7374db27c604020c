"""Cron schedules as the Inngest server accepts them: five fields, optional ``TZ=`` zone prefix.

Field syntax and the next fire time come from croniter; this module adds the server's rules on
top (no descriptors, no seconds field, no croniter-only extensions, a real IANA zone, 255 chars).
croniter loads on first use: most processes that import the package never read a schedule.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import Any

__all__ = ["SCHEDULED", "next_fire", "scheduled_event", "validate_cron"]

SCHEDULED = "inngest/scheduled.timer"
"""The name of the event a cron trigger's run gets."""

MAX_CRON_LENGTH = 255
_ZONE_PREFIXES = ("TZ=", "CRON_TZ=")
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_MONTH_NAMES = frozenset(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
)
_WEEKDAY_NAMES = frozenset(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
# Standard cron characters; croniter's extras (L, W, #, H) are refused by the server's parser.
_FIELD_CHARACTERS = re.compile(r"[0-9A-Za-z*?,/\-]+", re.ASCII)
_WORD = re.compile(r"[A-Za-z]+", re.ASCII)
_FORMAT_HINT = "expected 5 fields 'minute hour day-of-month month day-of-week', e.g. '0 9 * * MON'"


def _split(expr: str) -> tuple[datetime.tzinfo, str] | str:
    """Return (zone, five-field text), or a problem message."""
    text = expr.strip()
    zone: datetime.tzinfo = datetime.timezone.utc
    if text.startswith(_ZONE_PREFIXES):
        prefix, _, text = text.partition(" ")
        name = prefix.partition("=")[2]
        if not name:
            return f"invalid cron {expr!r}: empty time zone in {prefix!r}"
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return (
                f"invalid cron {expr!r}: unknown time zone {name!r} "
                "(use an IANA name like 'Europe/Paris')"
            )
        text = text.strip()
    if "=" in text.split(" ", 1)[0]:
        return f"invalid cron {expr!r}: unknown prefix; use 'TZ=<zone> ' or 'CRON_TZ=<zone> '"
    if text.startswith("@"):
        return f"invalid cron {expr!r}: descriptors like '@daily' are not supported; {_FORMAT_HINT}"
    fields = text.split()
    if len(fields) == 6:
        return f"invalid cron {expr!r}: a seconds field is not supported; {_FORMAT_HINT}"
    if len(fields) != 5:
        return f"invalid cron {expr!r}: has {len(fields)} fields; {_FORMAT_HINT}"
    for index, field in enumerate(fields):
        allowed_words = {3: _MONTH_NAMES, 4: _WEEKDAY_NAMES}.get(index, frozenset())
        words_ok = all(word.lower() in allowed_words for word in _WORD.findall(field))
        if not _FIELD_CHARACTERS.fullmatch(field) or not words_ok:
            return f"invalid cron {expr!r}: bad {_FIELD_NAMES[index]} field {field!r}"
    five = " ".join(fields)
    from croniter import croniter

    if not croniter.is_valid(five):
        return f"invalid cron {expr!r}: a field is out of range or malformed; {_FORMAT_HINT}"
    return zone, five


def validate_cron(expr: str) -> str | None:
    """Return ``None`` if the Inngest server accepts ``expr`` as a schedule, else the problem."""
    if not isinstance(expr, str):
        return f"invalid cron {expr!r}: expected a str, got {type(expr).__name__}"
    if len(expr) > MAX_CRON_LENGTH:
        return f"invalid cron {expr[:40]!r}...: longer than {MAX_CRON_LENGTH} characters"
    split = _split(expr)
    return split if isinstance(split, str) else None


def next_fire(expr: str, after: datetime.datetime) -> datetime.datetime:
    """The first fire time strictly after ``after``, as an aware UTC datetime.

    Fields are read in the expression's ``TZ=`` zone (UTC by default), so a "9 o'clock" schedule
    follows daylight saving time. A naive ``after`` is taken as UTC. Raises ``ValueError`` for an
    invalid expression or one that never fires (e.g. February 30th).
    """
    problem = validate_cron(expr)
    if problem is not None:
        raise ValueError(problem)
    split = _split(expr)
    assert not isinstance(split, str)  # validated above
    zone, five = split
    from croniter import CroniterError, croniter

    if after.tzinfo is None or after.utcoffset() is None:
        after = after.replace(tzinfo=datetime.timezone.utc)
    try:
        fire = croniter(five, after.astimezone(zone)).get_next(datetime.datetime)
    except CroniterError as error:
        raise ValueError(f"cron {expr!r} has no fire time after {after.isoformat()}") from error
    if not isinstance(fire, datetime.datetime):  # pragma: no cover - croniter honours ret_type
        raise TypeError(f"croniter returned {fire!r}")
    return fire.astimezone(datetime.timezone.utc)


def scheduled_event(
    expr: str, scheduled_at: datetime.datetime, fired_at: datetime.datetime
) -> dict[str, Any]:
    """The event of a cron run, as Inngest sends it: the schedule, when the run was due and
    when it fired; its id is the due time, so one schedule starts one run per fire time."""
    from inngest_dsl.spec._durations import format_instant

    stamp = format_instant(scheduled_at)
    return {
        "name": SCHEDULED,
        "id": stamp,
        "data": {"cron": expr, "scheduledAt": stamp, "fireAt": format_instant(fired_at)},
        "user": {},
        "ts": int(fired_at.timestamp() * 1000),
    }
