"""The example shop's functions, tested in-process with the testing kit."""

from __future__ import annotations

from examples.shop import mailer
from examples.shop.flows import DailyDigest, SignUpFlow
from inngest_dsl.testing import run_function

SIGN_UP = {"name": "auth/signup", "data": {"user_id": "u-1", "email": "ada@example.com"}}


async def test_confirmed_sign_up_is_not_nudged() -> None:
    confirmation = {"name": "auth/signup.confirmed", "data": {"user_id": "u-1"}}
    result = await run_function(SignUpFlow, SIGN_UP, waits={"auth/signup.confirmed": confirmation})
    result.assert_completed()
    assert result.output["nudged"] is False
    assert result.output["welcome_id"].startswith("msg-")


async def test_unconfirmed_sign_up_is_nudged_after_a_day() -> None:
    before = mailer.sent_count("Please confirm your address")
    result = await run_function(SignUpFlow, SIGN_UP, waits={"auth/signup.confirmed": None})
    result.assert_completed()
    assert result.output["nudged"] is True
    assert mailer.sent_count("Please confirm your address") == before + 1


async def test_daily_digest_counts_sign_ups() -> None:
    result = await run_function(DailyDigest, steps={"count sign-ups": {"sign_ups": 3}})
    result.assert_completed()
    assert result.data["sign_ups"] == 3
    assert result.output["digest_id"].startswith("msg-")
