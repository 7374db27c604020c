"""The limits Inngest puts on function options, in one place for the SDK and the dev server.

Pure data: counts, duration ranges and the priority clamp, each with where it comes from. The
SDK's compile-time checks and the dev server's registration checks both read these, so a
function the SDK accepts is one the dev server accepts, and both refuse what Inngest refuses.

Sources: the Inngest server (`pkg/consts`, `pkg/inngest`: `MinDebouncePeriod`,
`MaxDebouncePeriod`, `FunctionIdempotencyPeriod`, `EventBatchConfig.IsValid`) and the option
references on inngest.com ("Current permitted values are from 1s to 24h" for rate limits, "from
1s to 7d" for debounce periods; a batch holds at most 100 events on Inngest Cloud).
"""

from __future__ import annotations

import datetime

import attrs

from inngest_dsl.spec._durations import format_duration

__all__ = [
    "BATCH_TIMEOUT",
    "CRON_JITTER",
    "DAY",
    "DEBOUNCE_PERIOD",
    "IDEMPOTENCY_PERIOD",
    "MAX_BATCH_SIZE",
    "MAX_CANCELS",
    "MAX_CONCURRENCY_LIMITS",
    "MAX_RETRIES",
    "MAX_TRIGGERS",
    "MIN_BATCH_SIZE",
    "PRIORITY_LIMIT",
    "RATE_LIMIT_PERIOD",
    "SDK_MIN_DURATION",
    "SECOND",
    "THROTTLE_PERIOD",
    "WEEK",
    "DurationRange",
    "clamp_priority",
]

SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(days=7)


@attrs.frozen
class DurationRange:
    """The durations an option accepts: `minimum <= value <= maximum` (None: no bound)."""

    minimum: datetime.timedelta | None = None
    maximum: datetime.timedelta | None = None

    def problem(self, value: datetime.timedelta) -> str | None:
        """Why `value` is out of range ("must be between 1s and 7d"...), or None if it is not."""
        low = self.minimum is not None and value < self.minimum
        high = self.maximum is not None and value > self.maximum
        if not (low or high):
            return None
        if self.minimum is not None and self.maximum is not None:
            return f"must be between {_text(self.minimum)} and {_text(self.maximum)}"
        if self.minimum is not None:
            return f"must be at least {_text(self.minimum)}"
        assert self.maximum is not None
        return f"must be at most {_text(self.maximum)}"

    def seconds_problem(self, seconds: float) -> str | None:
        """`problem` for a duration given in seconds."""
        return self.problem(datetime.timedelta(seconds=seconds))


def _text(value: datetime.timedelta) -> str:
    return format_duration(value)


# -- counts ------------------------------------------------------------------------------------

MAX_RETRIES = 20
"""The most retries one function may have (`steps.*.retries.attempts`)."""

MAX_TRIGGERS = 10
"""The most triggers one function may have."""

MAX_CONCURRENCY_LIMITS = 2
"""The most concurrency limits one function may have."""

MAX_CANCELS = 5
"""The most cancellation events one function may have (the server's `MaxCancellations`)."""

MIN_BATCH_SIZE = 2
"""The smallest `batchEvents.maxSize`: a batch of one is no batch (`EventBatchConfig.IsValid`)."""

MAX_BATCH_SIZE = 100
"""The largest `batchEvents.maxSize` Inngest Cloud accepts."""

# -- durations ---------------------------------------------------------------------------------

RATE_LIMIT_PERIOD = DurationRange(SECOND, DAY)
"""`rateLimit.period`: 1s to 24h, as documented (the server itself checks only the 24h)."""

THROTTLE_PERIOD = DurationRange(None, WEEK)
"""`throttle.period`: at most 7d. Inngest does not refuse shorter periods than a second."""

DEBOUNCE_PERIOD = DurationRange(SECOND, WEEK)
"""`debounce.period`: 1s to 7d (`MinDebouncePeriod`, `MaxDebouncePeriod`)."""

BATCH_TIMEOUT = DurationRange(SECOND, None)
"""`batchEvents.timeout`: at least 1s ("batch timeout should be more than 1s")."""

CRON_JITTER = DurationRange(SECOND, datetime.timedelta(minutes=5))
"""A cron trigger's `jitter`: 1s to 5m."""

IDEMPOTENCY_PERIOD = DAY
"""How long an idempotency key holds: Inngest turns `idempotency` into a 1-per-24h rate limit."""

SDK_MIN_DURATION = SECOND
"""The shortest duration the SDK emits: it writes whole seconds, so anything shorter is refused."""

# -- priority ----------------------------------------------------------------------------------

PRIORITY_LIMIT = 600
"""`priority.run` results are clamped to this many seconds either way (the SDK spec's range)."""


def clamp_priority(seconds: int) -> int:
    """A `priority.run` result held to `-PRIORITY_LIMIT..PRIORITY_LIMIT`."""
    return max(-PRIORITY_LIMIT, min(PRIORITY_LIMIT, seconds))
