"""A stand-in mail service: records what it would send (a real app calls its mail API here)."""

from __future__ import annotations

import asyncio
import itertools
import logging

_log = logging.getLogger("examples.shop.mailer")
_ids = itertools.count(1)
outbox: list[tuple[str, str]] = []


async def send(to: str, subject: str) -> str:
    """Pretend to send a mail; returns its message id."""
    await asyncio.sleep(0)
    outbox.append((to, subject))
    message_id = f"msg-{next(_ids)}"
    _log.info("mail %s to %s: %s", message_id, to, subject)
    return message_id


def sent_count(subject: str) -> int:
    """How many mails with this subject were sent."""
    return sum(1 for _, s in outbox if s == subject)
