"""A raw protocol app for the UI tests: a checkout function with steps, a retry and a sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .conftest import RawApp, done_response, function_config, op, ops_response

EVENT = "shop/order.placed"
FUNCTION_ID = "raw-checkout"
SLEEP = "400ms"
WORK_SECONDS = 0.12


def checkout_config(app: RawApp) -> dict[str, Any]:
    return function_config(app, "checkout", event=EVENT, expression="event.data.total > 0")


async def checkout(
    step_id: str,
    body: dict[str, Any],
    sleep: str = SLEEP,
    work: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> web.Response:
    """reserve (slow) -> charge (fails once) -> cool-down (sleep) -> receipt (large output).

    `work(seconds)` is the time a step's work takes (on a virtual clock: moves it on).
    """
    steps = body["steps"]
    data = body["event"]["data"]
    if "reserve" not in steps:
        await work(WORK_SECONDS)
        items = data.get("items", [])
        return ops_response(op("StepRun", "reserve", displayName="reserve stock", data=items))
    if "charge" not in steps:
        await work(WORK_SECONDS / 2)
        if body["ctx"]["attempt"] == 0:
            error = {"name": "CardDeclined", "message": "card <b>declined</b>, try again"}
            return ops_response(op("StepError", "charge", displayName="charge card", error=error))
        return ops_response(
            op("StepRun", "charge", displayName="charge card", data={"charged": data["total"]})
        )
    if "cool-down" not in steps:
        return ops_response(
            op("Sleep", "cool-down", displayName="cool down", opts={"duration": sleep})
        )
    if "receipt" not in steps:
        lines = [{"line": i, "text": "x" * 40} for i in range(60)]
        return ops_response(
            op("StepRun", "receipt", displayName="write receipt", data={"lines": lines})
        )
    return done_response({"order": data.get("order"), "status": "shipped"})
