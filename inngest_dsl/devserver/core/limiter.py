"""GCRA: the token bucket behind rate limits, idempotency and throttles, one stored time per key.

A bucket holds `capacity` run starts and gains one back every `period / limit` seconds. Its
whole state is the "theoretical arrival time" (TAT), kept in the store so limits survive a
restart. Rate limits use `capacity = limit`; throttles `capacity = limit + burst`, which is how
Inngest documents them ("limit + burst runs start at once, then one every period / limit").
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from inngest_dsl.devserver.store import Store

__all__ = ["Bucket", "Decision", "Limiter", "gcra"]

_EPSILON = 1e-6


@attrs.frozen
class Decision:
    """Whether a start is allowed now; if not, `retry_at` is the earliest time it would be."""

    allowed: bool
    tat: float
    retry_at: float


def gcra(tat: float | None, now: float, period: float, limit: int, capacity: int) -> Decision:
    """Take one token from the bucket whose state is `tat`; the new state is `Decision.tat`."""
    emission = period / max(limit, 1)
    base = now if tat is None else max(tat, now)
    new_tat = base + emission
    allow_at = new_tat - emission * max(capacity, 1)
    if now + _EPSILON >= allow_at:
        return Decision(True, new_tat, now)
    return Decision(False, base, allow_at)


@attrs.frozen
class Bucket:
    """One GCRA bucket to take a token from: its key and parameters."""

    key: str
    period: float
    limit: int
    capacity: int


class Limiter:
    """GCRA buckets by key, persisted in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def take(self, key: str, now: float, period: float, limit: int, capacity: int) -> Decision:
        """Take a token if one is free (and record it); else say when one will be."""
        decision = gcra(self._store.limiter_tat(key), now, period, limit, capacity)
        if decision.allowed:
            self._store.set_limiter_tat(key, decision.tat)
        return decision

    def take_all(self, buckets: Sequence[Bucket], now: float) -> int | None:
        """Take a token from every bucket, or from none of them.

        Returns None when all allowed (and records them all), else the index of the first
        bucket that refused: nothing is recorded then, so a start that did not happen never
        uses up another bucket's token.
        """
        decisions = []
        for index, bucket in enumerate(buckets):
            tat = self._store.limiter_tat(bucket.key)
            decision = gcra(tat, now, bucket.period, bucket.limit, bucket.capacity)
            if not decision.allowed:
                return index
            decisions.append(decision)
        for bucket, decision in zip(buckets, decisions, strict=True):
            self._store.set_limiter_tat(bucket.key, decision.tat)
        return None
