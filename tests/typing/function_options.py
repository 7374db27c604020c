"""Function options and failure handlers as users write them: must pass `mypy --strict`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from inngest_dsl import (
    Batch,
    Cancel,
    Concurrency,
    Context,
    Debounce,
    Failure,
    FunctionSpec,
    InngestFunction,
    Priority,
    RateLimit,
    Singleton,
    StepError,
    Throttle,
    Timeouts,
    failure_spec,
    on_failure,
    spec_of,
    step,
)


class Checkout(
    InngestFunction,
    event="shop/checkout",
    retries=3,
    concurrency=[2, Concurrency(limit=1, key="event.data.user_id", scope="account")],
    throttle=Throttle(limit=5, period="10s", burst=1, key=None),
    rate_limit=RateLimit(limit=10, period=dt.timedelta(minutes=1)),
    debounce=Debounce(period="5s", key="event.data.cart_id", timeout="1m"),
    cancel_on=[
        "shop/user.deleted",
        Cancel(event="shop/cart.emptied", match="data.cart_id", timeout="1h"),
    ],
    priority="event.data.priority",
    idempotency="event.data.order_id",
    timeouts=Timeouts(start="1m", finish=dt.timedelta(hours=1)),
    singleton=Singleton(mode="skip"),
):
    """Every option but batching, which excludes several of them."""

    @step("charge")
    async def charge(self, ctx: Context) -> dict[str, str]:
        return {"charge_id": "ch-1"}

    @on_failure
    async def alert(self, ctx: Context, failure: Failure) -> None:
        ctx.logger.error("%s failed: %s", failure.event.name, failure.error)


class Collect(
    InngestFunction,
    event="shop/item.viewed",
    batch_events=Batch(max_size=50, timeout="5s", key="event.data.user_id", if_="true"),
    concurrency=Concurrency(limit=2),
    priority=None,
):
    @step("store")
    def store(self, ctx: Context) -> int:
        return len(ctx.events)

    @on_failure
    def report(self, ctx: Context, failure: Failure) -> str:
        error: StepError = failure.error
        return f"{failure.run_id} {failure.function_id}: {error.name}: {error.message}"


class Prioritised(InngestFunction, cron="0 9 * * *", priority=Priority(run="60")):
    pass


companion: FunctionSpec = failure_spec(Checkout, "shop")
limits: tuple[Concurrency, ...] = spec_of(Checkout).concurrency
cancels: tuple[Cancel, ...] = spec_of(Checkout).cancel_on

if TYPE_CHECKING:
    # Checked, never run: a wrongly typed option must be a type error (strict mode reports an
    # ignore that is not needed, so these fail the check if the keywords stop being typed).
    class WrongThrottle(InngestFunction, event="a/b", throttle=5):  # type: ignore[arg-type]
        pass

    class WrongPriority(InngestFunction, event="a/b", priority=3):  # type: ignore[arg-type]
        pass

    class WrongCancel(InngestFunction, event="a/b", cancel_on=[1]):  # type: ignore[list-item]
        pass

    bad_singleton = Singleton(mode="queue")  # type: ignore[arg-type]

    class WrongHandler(InngestFunction, event="a/b"):
        @on_failure  # type: ignore[type-var]
        def alert(self, ctx: Context) -> None: ...
