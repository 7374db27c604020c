"""Function options (flow control, cancellation, timeouts), given as class keywords.

```python
class Checkout(InngestFunction, event="shop/checkout",
               concurrency=Concurrency(limit=2, key="event.data.user_id"),
               throttle=Throttle(limit=5, period="10s"),
               cancel_on=Cancel(event="shop/cart.emptied", match="data.cart_id", timeout="1h")):
    ...
```

These are plain values: the class statement checks them, all at once, and reports every
problem in one `DefinitionError`. Durations are a string (`"30s"`, `"1h30m"`, `"1.5d"`) or a
`timedelta`; keys and conditions are CEL expressions over `event` (the triggering event).
The class names follow the official Python SDK's.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

from attrs import frozen

__all__ = [
    "Batch",
    "Cancel",
    "Concurrency",
    "Debounce",
    "Duration",
    "Priority",
    "RateLimit",
    "Singleton",
    "Throttle",
    "Timeouts",
]

Duration = str | _dt.timedelta
"""A length of time: `"30s"`, `"1h30m"`, `"1.5d"`, or a `datetime.timedelta`."""


@frozen(kw_only=True)
class Concurrency:
    """At most `limit` steps of this function run at once (0: no limit).

    With `key`, the limit applies to each value of that expression (e.g. per user);
    `scope="env"` or `"account"` shares the limit, per key, with every function using the same
    key in the environment or account (a key is then required).
    """

    limit: int
    key: str | None = None
    scope: Literal["fn", "env", "account"] | None = None


@frozen(kw_only=True)
class Throttle:
    """At most `limit` runs start per `period` (plus `burst` at once); the rest are queued."""

    limit: int
    period: Duration
    burst: int = 1
    key: str | None = None


@frozen(kw_only=True)
class RateLimit:
    """At most `limit` runs start per `period` (at most 24 hours); the rest are dropped."""

    limit: int
    period: Duration
    key: str | None = None


@frozen(kw_only=True)
class Debounce:
    """Wait until no new event came for `period`, then run once with the last event.

    `timeout` caps the total wait, however often events keep arriving.
    """

    period: Duration
    key: str | None = None
    timeout: Duration | None = None


@frozen(kw_only=True)
class Batch:
    """Run once per batch of up to `max_size` events, or after `timeout` with what arrived.

    `key` batches per value of that expression; `if_` only batches events for which it is true.
    The run sees every event in `ctx.events`.
    """

    max_size: int
    timeout: Duration
    key: str | None = None
    if_: str | None = None


@frozen(kw_only=True)
class Cancel:
    """Cancel a run when an `event` arrives that matches it, within `timeout` of its start.

    `match="data.cart_id"` pairs the two events on that field; `if_=` takes a full expression
    over `event` (the run's trigger) and `async` (the cancelling event). Without `timeout` a run
    can be cancelled for up to a year.
    """

    event: str
    match: str | None = None
    if_: str | None = None
    timeout: Duration | None = None


@frozen(kw_only=True)
class Priority:
    """`run` is an expression giving, in seconds, how far ahead of others a run is queued."""

    run: str


@frozen(kw_only=True)
class Timeouts:
    """Cancel a run not started within `start` of its event, or not finished within `finish`."""

    start: Duration | None = None
    finish: Duration | None = None


@frozen(kw_only=True)
class Singleton:
    """At most one run at a time (per `key`): a new run is skipped, or cancels the running one."""

    mode: Literal["skip", "cancel"]
    key: str | None = None
