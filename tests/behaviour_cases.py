"""A table of run behaviours: functions, a script of what happens, and what must come of it.

Each `Case` is a row: DSL function classes, a script (`Send` events in one request,
`Advance` virtual time, `CancelRun` through the API, `Check` the runs mid-way) and the runs
expected at the end. Every row runs on every backend of `behaviour_backends` with the same
expectations; `test_behaviour_table.py` does the running and the comparing.

Times are seconds of virtual time after `START`. Runs are compared grouped by function (in
the order the expected runs first name them), then by when they were queued, then by their
first event's data; so list the expected runs in that order, and give every event sent in
one request a distinct `n`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs

from inngest_dsl import (
    Batch,
    Cancel,
    Concurrency,
    Context,
    Debounce,
    Failure,
    InngestFunction,
    NonRetriableError,
    Priority,
    RateLimit,
    RetryAfterError,
    Singleton,
    StepError,
    Throttle,
    Timeouts,
    invoke,
    on_failure,
    parallel,
    run,
    send_event,
    sleep,
    sleep_until,
    step,
    wait_for_event,
)

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

JOURNAL: list[Any] = []
"""What step bodies did, in order; emptied before each case (both backends run in-process)."""


# -- the table's vocabulary --------------------------------------------------------------------


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


UNCHECKED: Any = _Unchecked()
"""A field the expectation leaves alone."""


@attrs.frozen
class Step:
    """A step record: its name (block id), status, attempts, and when it ended."""

    name: str
    status: str
    attempts: int = 1
    ended: float | None = UNCHECKED


@attrs.frozen
class Run:
    """A run: its function (id within the app), status, output, error `(name, message)`,
    steps (`None`: not checked), queued/started/ended times, and a phrase of its reason."""

    function: str
    status: str
    output: Any = None
    error: tuple[str, str] | None = None
    steps: tuple[Step, ...] | None = None
    queued: float | None = UNCHECKED
    started: float | None = UNCHECKED
    ended: float | None = UNCHECKED
    reason: str | None = None


@attrs.frozen
class Send:
    """Send these events in one request to the event API."""

    events: tuple[dict[str, Any], ...]


def send(name: str, *data: dict[str, Any], **fields: Any) -> Send:
    """`Send` of one event named `name` per `data` mapping (extra fields on each)."""
    return Send(tuple({"name": name, "data": d, **fields} for d in data))


@attrs.frozen
class Advance:
    """Move virtual time on by `duration`, everything due in between happening."""

    duration: str


@attrs.frozen
class CancelRun:
    """Cancel the `index`-th run of `function` (in comparison order) through the API."""

    function: str
    index: int = 0


@attrs.frozen
class Check:
    """The runs must be exactly these now (a mid-script expectation)."""

    runs: tuple[Run, ...]


Action = Send | Advance | CancelRun | Check


@attrs.frozen
class Case:
    name: str
    functions: tuple[type, ...]
    script: tuple[Action, ...]
    runs: tuple[Run, ...]
    journal: Any = UNCHECKED
    """What `JOURNAL` must hold at the end, after `summary`."""
    summary: Callable[[list[Any]], Any] = list
    ordered_steps: bool = True
    """False where steps finish in no fixed order (a parallel group): compared by name."""


# -- retries and errors ------------------------------------------------------------------------


class FlakyCharge(InngestFunction, id="flaky-charge", event="table/flaky", retries=3):
    @step("charge")
    def charge(self, ctx: Context) -> dict[str, int]:
        JOURNAL.append(("charge", ctx.attempt))
        if ctx.attempt < 2:
            raise ValueError(f"declined on attempt {ctx.attempt}")
        return {"charged": ctx.event.data["n"]}


class DeclinedCharge(InngestFunction, id="declined-charge", event="table/declined", retries=2):
    @step("charge")
    def charge(self, ctx: Context) -> None:
        JOURNAL.append(("charge", ctx.attempt))
        raise ValueError("card declined")


class StolenCard(InngestFunction, id="stolen-card", event="table/stolen", retries=3):
    @step("charge")
    def charge(self, ctx: Context) -> None:
        JOURNAL.append(("charge", ctx.attempt))
        raise NonRetriableError("card reported stolen")


class BusyGateway(InngestFunction, id="busy-gateway", event="table/busy", retries=3):
    @step("charge")
    def charge(self, ctx: Context) -> dict[str, int]:
        JOURNAL.append(("charge", ctx.attempt))
        if ctx.attempt == 0:
            raise RetryAfterError("gateway busy", retry_after=dt.timedelta(minutes=7))
        return {"charged": ctx.event.data["n"]}


def _decline() -> None:
    JOURNAL.append("decline")
    raise ValueError("card declined")


class CaughtDecline(InngestFunction, id="caught-decline", event="table/caught", retries=1):
    @run("try the card")
    async def try_card(self, ctx: Context) -> dict[str, Any]:
        try:
            await ctx.step.run("charge", _decline)
        except StepError as exc:
            return {"caught": exc.name, "message": exc.message}
        return {"caught": None}


class UncaughtDecline(InngestFunction, id="uncaught-decline", event="table/uncaught", retries=1):
    @run("try the card")
    async def try_card(self, ctx: Context) -> dict[str, Any]:
        await ctx.step.run("charge", _decline)
        return {"charged": True}


RETRY_CASES = [
    Case(
        "step-retries-then-succeeds",
        (FlakyCharge,),
        (send("table/flaky", {"n": 1}), Advance("1h")),
        (
            Run(
                "flaky-charge",
                "Completed",
                output={"charged": 1},
                # Backoff 15 s after the first failure, 30 s after the second.
                steps=(Step("charge", "Completed", attempts=3, ended=45),),
                queued=0,
                started=0,
                ended=45,
            ),
        ),
        journal=[("charge", 0), ("charge", 1), ("charge", 2)],
    ),
    Case(
        "retries-exhausted",
        (DeclinedCharge,),
        (send("table/declined", {"n": 1}), Advance("1h")),
        (
            Run(
                "declined-charge",
                "Failed",
                error=("ValueError", "card declined"),
                steps=(Step("charge", "Failed", attempts=3, ended=45),),
                queued=0,
                ended=45,
            ),
        ),
        journal=[("charge", 0), ("charge", 1), ("charge", 2)],
    ),
    Case(
        "non-retriable-error",
        (StolenCard,),
        (send("table/stolen", {"n": 1}), Advance("1h")),
        (
            Run(
                "stolen-card",
                "Failed",
                error=("NonRetriableError", "card reported stolen"),
                # The step that raised is recorded, Failed with its error.
                steps=(Step("charge", "Failed", ended=0),),
                ended=0,
            ),
        ),
        journal=[("charge", 0)],
    ),
    Case(
        "retry-after-error",
        (BusyGateway,),
        (send("table/busy", {"n": 3}), Advance("1h")),
        (
            Run(
                "busy-gateway",
                "Completed",
                output={"charged": 3},
                # The first attempt failed the whole request (500, `Retry-After`); the app
                # names the step that raised, so its record counts both attempts.
                steps=(Step("charge", "Completed", attempts=2, ended=420),),
                ended=420,
            ),
        ),
        journal=[("charge", 0), ("charge", 1)],
    ),
    Case(
        "step-error-caught",
        (CaughtDecline,),
        (send("table/caught", {"n": 1}), Advance("1h")),
        (
            Run(
                "caught-decline",
                "Completed",
                output={"caught": "ValueError", "message": "card declined"},
                steps=(Step("charge", "Failed", attempts=2, ended=15),),
                ended=15,
            ),
        ),
        journal=["decline", "decline"],
    ),
    Case(
        "step-error-uncaught",
        (UncaughtDecline,),
        (send("table/uncaught", {"n": 1}), Advance("1h")),
        (
            Run(
                "uncaught-decline",
                "Failed",
                error=("ValueError", "card declined"),
                steps=(Step("charge", "Failed", attempts=2, ended=15),),
                ended=15,
            ),
        ),
        journal=["decline", "decline"],
    ),
]


# -- sleeps and waits --------------------------------------------------------------------------


class Nap(InngestFunction, id="nap", event="table/nap"):
    @step("before")
    def before(self, ctx: Context) -> dict[str, str]:
        return {"before": "done"}

    sleep("1h")

    @step("after")
    def after(self, ctx: Context) -> dict[str, str]:
        return {"after": "done"}


class Launch(InngestFunction, id="launch", event="table/launch"):
    sleep_until("launch day", at="2026-01-02T09:30:00Z")

    @step("announce")
    def announce(self, ctx: Context) -> dict[str, bool]:
        return {"announced": True}


class Approval(InngestFunction, id="approval", event="table/submitted"):
    approved = wait_for_event("table/approved", timeout="1d", match="data.doc")

    @step("publish")
    def publish(self, ctx: Context) -> dict[str, Any]:
        decision = ctx[self.approved]
        return {"published": decision is not None and decision.data["by"]}


class LateApproval(InngestFunction, id="late-approval", event="table/drafted"):
    sleep("1h")
    approved = wait_for_event("table/signed", timeout="1d", match="data.doc")

    @step("publish")
    def publish(self, ctx: Context) -> dict[str, Any]:
        return {"published": ctx[self.approved] is not None}


def _approval_event(doc: int, by: str, ts: int) -> dict[str, Any]:
    """The approval event as stored and memoised (sent with an id and a time of its own)."""
    return {
        "name": "table/approved",
        "data": {"doc": doc, "by": by},
        "id": f"approval-{doc}-{by}",
        "ts": ts,
        "user": {},
    }


_NAP_STEPS = (
    Step("before", "Completed", ended=0),
    Step("sleep 1h", "Completed", ended=3600),
    Step("after", "Completed", ended=3600),
)
_TWO_HOURS_MS = int((START + dt.timedelta(hours=2)).timestamp() * 1000)

WAIT_CASES = [
    Case(
        "sleep",
        (Nap,),
        (
            send("table/nap", {"n": 1}),
            Advance("59m"),
            Check(
                (
                    Run(
                        "nap",
                        "Running",
                        steps=(
                            Step("before", "Completed", ended=0),
                            Step("sleep 1h", "Sleeping", attempts=0, ended=None),
                        ),
                        started=0,
                        ended=None,
                    ),
                )
            ),
            Advance("1h"),
        ),
        (
            Run(
                "nap",
                "Completed",
                output={"before": "done", "after": "done"},
                steps=_NAP_STEPS,
                queued=0,
                started=0,
                ended=3600,
            ),
        ),
    ),
    Case(
        "sleep-until",
        (Launch,),
        (send("table/launch", {"n": 1}), Advance("3d")),
        (
            Run(
                "launch",
                "Completed",
                output={"announced": True},
                steps=(
                    Step("launch day", "Completed", ended=120600),
                    Step("announce", "Completed", ended=120600),
                ),
                ended=120600,  # 2026-01-02T09:30:00Z
            ),
        ),
    ),
    Case(
        "wait-for-event-matched",
        (Approval,),
        (
            send("table/submitted", {"doc": 1}),
            Advance("2h"),
            # Another document's approval does not match; this one's does.
            Send(
                (
                    {**_approval_event(2, "bob", _TWO_HOURS_MS)},
                    {**_approval_event(1, "ann", _TWO_HOURS_MS)},
                )
            ),
            Advance("2d"),
        ),
        (
            Run(
                "approval",
                "Completed",
                output={
                    "table/approved": _approval_event(1, "ann", _TWO_HOURS_MS),
                    "published": "ann",
                },
                steps=(
                    Step("table/approved", "Completed", ended=7200),
                    Step("publish", "Completed", ended=7200),
                ),
                ended=7200,
            ),
        ),
    ),
    Case(
        "wait-for-event-timed-out",
        (Approval,),
        (send("table/submitted", {"doc": 1}), Advance("3d")),
        (
            Run(
                "approval",
                "Completed",
                output={"table/approved": None, "published": False},
                steps=(
                    Step("table/approved", "Completed", ended=86400),
                    Step("publish", "Completed", ended=86400),
                ),
                ended=86400,
            ),
        ),
    ),
    Case(
        "wait-for-event-sent-before-armed",
        (LateApproval,),
        (
            send("table/drafted", {"doc": 1}),
            Advance("30m"),
            send("table/signed", {"doc": 1}),  # during the sleep: the wait is not armed yet
            Advance("3d"),
        ),
        (
            Run(
                "late-approval",
                "Completed",
                output={"table/signed": None, "published": False},
                steps=(
                    Step("sleep 1h", "Completed", ended=3600),
                    Step("table/signed", "Completed", ended=3600 + 86400),
                    Step("publish", "Completed", ended=3600 + 86400),
                ),
                ended=3600 + 86400,
            ),
        ),
    ),
]


# -- invoke and parallel groups ----------------------------------------------------------------


class Quote(InngestFunction, id="quote", event="table/quote"):
    @step("price")
    def price(self, ctx: Context) -> dict[str, int]:
        return {"price": 10 * int(ctx.event.data["qty"])}


class Checkout(InngestFunction, id="checkout", event="table/checkout"):
    @invoke("get quote", function=Quote, timeout="1h")
    def quote(self, ctx: Context) -> dict[str, Any]:
        return {"qty": ctx.event.data["qty"]}

    @step("total")
    def total(self, ctx: Context) -> dict[str, int]:
        return {"total": ctx.data["price"] + 5}


class SoldOut(InngestFunction, id="sold-out", event="table/sold-out"):
    @step("reserve")
    def reserve(self, ctx: Context) -> None:
        raise NonRetriableError("out of stock")


class Reserve(InngestFunction, id="reserve", event="table/reserve"):
    @invoke("reserve stock", function=SoldOut, timeout="1h")
    def payload(self, ctx: Context) -> dict[str, Any]:
        return {"sku": "s-1"}

    @step("confirm")
    def confirm(self, ctx: Context) -> None:
        JOURNAL.append("confirmed")


class SlowQuote(InngestFunction, id="slow-quote", event="table/slow-quote"):
    sleep("1h")

    @step("price")
    def price(self, ctx: Context) -> dict[str, int]:
        return {"price": 99}


class ImpatientCheckout(InngestFunction, id="impatient-checkout", event="table/impatient"):
    invoke("get quote", function=SlowQuote, data={"qty": 1}, timeout="10m")

    @step("total")
    def total(self, ctx: Context) -> None:
        JOURNAL.append("totalled")


class Prepare(InngestFunction, id="prepare", event="table/prepare"):
    with parallel("prepare"):

        @step("pack")
        async def pack(self, ctx: Context) -> dict[str, str]:
            return {"packed": f"box-{ctx.event.data['n']}"}

        @step("label")
        async def label(self, ctx: Context) -> dict[str, str]:
            return {"label": f"L-{ctx.event.data['n']}"}

    @step("hand over")
    def hand_over(self, ctx: Context) -> str:
        return f"{ctx.data['packed']} {ctx.data['label']}"


INVOKE_CASES = [
    Case(
        "invoke-ok",
        (Checkout, Quote),
        (send("table/checkout", {"qty": 4}), Advance("1h")),
        (
            Run(
                "checkout",
                "Completed",
                output={"price": 40, "get quote": {"price": 40}, "total": 45},
                steps=(
                    Step("get quote", "Completed", ended=0),
                    Step("total", "Completed", ended=0),
                ),
                ended=0,
            ),
            Run(
                "quote",
                "Completed",
                output={"price": 40},
                steps=(Step("price", "Completed", ended=0),),
                queued=0,
                ended=0,
            ),
        ),
    ),
    Case(
        "invoke-callee-failed",
        (Reserve, SoldOut),
        (send("table/reserve", {"n": 1}), Advance("1h")),
        (
            Run(
                "reserve",
                "Failed",
                error=("NonRetriableError", "out of stock"),
                steps=(Step("reserve stock", "Failed", ended=0),),
                ended=0,
            ),
            Run(
                "sold-out",
                "Failed",
                error=("NonRetriableError", "out of stock"),
                steps=(Step("reserve", "Failed", ended=0),),
                ended=0,
            ),
        ),
        journal=[],
    ),
    Case(
        "invoke-timed-out",
        (ImpatientCheckout, SlowQuote),
        (send("table/impatient", {"n": 1}), Advance("2h")),
        (
            Run(
                "impatient-checkout",
                "Failed",
                error=(
                    "InngestInvokeTimeoutError",
                    "Timed out waiting for invoked function to complete",
                ),
                steps=(Step("get quote", "Failed", ended=600),),
                ended=600,
            ),
            # The callee is not stopped: it finishes in its own time, to no one.
            Run(
                "slow-quote",
                "Completed",
                output={"price": 99},
                steps=(
                    Step("sleep 1h", "Completed", ended=3600),
                    Step("price", "Completed", ended=3600),
                ),
                ended=3600,
            ),
        ),
        journal=[],
    ),
    Case(
        "parallel-fan-in",
        (Prepare,),
        (send("table/prepare", {"n": 7}),),
        (
            Run(
                "prepare",
                "Completed",
                output={"packed": "box-7", "label": "L-7", "hand over": "box-7 L-7"},
                steps=(
                    Step("hand over", "Completed", ended=0),
                    Step("label", "Completed", ended=0),
                    Step("pack", "Completed", ended=0),
                ),
                ended=0,
            ),
        ),
        ordered_steps=False,
    ),
]


# -- cancellation and timeouts -----------------------------------------------------------------


class Reminder(
    InngestFunction,
    id="reminder",
    event="table/todo",
    cancel_on=Cancel(event="table/todo.done", match="data.todo"),
):
    @step("note")
    def note(self, ctx: Context) -> dict[str, int]:
        return {"todo": ctx.event.data["todo"]}

    sleep("1h")

    @step("remind")
    def remind(self, ctx: Context) -> None:
        JOURNAL.append(("reminded", ctx.event.data["todo"]))


class LongJob(InngestFunction, id="long-job", event="table/long-job"):
    @step("begin")
    def begin(self, ctx: Context) -> None:
        return None

    sleep("1h")

    @step("finish")
    def finish(self, ctx: Context) -> None:
        JOURNAL.append("finished")


class SlowToStart(
    InngestFunction,
    id="slow-to-start",
    event="table/slow-start",
    throttle=Throttle(limit=1, period="1h", burst=1),
    timeouts=Timeouts(start="1m"),
):
    @step("work")
    def work(self, ctx: Context) -> int:
        return int(ctx.event.data["n"])


class SlowToFinish(
    InngestFunction, id="slow-to-finish", event="table/slow-finish", timeouts=Timeouts(finish="10m")
):
    @step("begin")
    def begin(self, ctx: Context) -> None:
        return None

    sleep("1h")

    @step("finish")
    def finish(self, ctx: Context) -> None:
        JOURNAL.append("finished")


# A cancelled run's pending sleep ends with it, at the cancel time.
_CANCELLED_STEPS = (
    Step("begin", "Completed", ended=0),
    Step("sleep 1h", "Cancelled", attempts=0, ended=600),
)

CANCEL_CASES = [
    Case(
        "cancel-on-event",
        (Reminder,),
        (
            send("table/todo", {"todo": 1}, {"todo": 2}),
            Advance("10m"),
            send("table/todo.done", {"todo": 1}),
            Advance("2h"),
        ),
        (
            Run(
                "reminder",
                "Cancelled",
                steps=(
                    Step("note", "Completed", ended=0),
                    Step("sleep 1h", "Cancelled", attempts=0, ended=600),
                ),
                ended=600,
                reason="table/todo.done",
            ),
            Run(
                "reminder",
                "Completed",
                output={"todo": 2, "remind": None},
                steps=(
                    Step("note", "Completed", ended=0),
                    Step("sleep 1h", "Completed", ended=3600),
                    Step("remind", "Completed", ended=3600),
                ),
                ended=3600,
            ),
        ),
        journal=[("reminded", 2)],
    ),
    Case(
        "cancel-by-api",
        (LongJob,),
        (
            send("table/long-job", {"n": 1}),
            Advance("10m"),
            CancelRun("long-job"),
            Advance("2h"),
        ),
        (
            Run(
                "long-job",
                "Cancelled",
                steps=_CANCELLED_STEPS,
                ended=600,
                reason="cancelled through the API",
            ),
        ),
        journal=[],
    ),
    Case(
        "timeouts-start",
        (SlowToStart,),
        # limit 1 + burst 1 start at once; the third waits an hour for the throttle.
        (send("table/slow-start", {"n": 0}, {"n": 1}, {"n": 2}), Advance("2h")),
        (
            Run("slow-to-start", "Completed", output={"work": 0}, started=0, ended=0),
            Run("slow-to-start", "Completed", output={"work": 1}, started=0, ended=0),
            Run(
                "slow-to-start",
                "Cancelled",
                steps=(),  # never called
                ended=60,
                reason="timeouts.start: not started within 1m",
            ),
        ),
    ),
    Case(
        "timeouts-finish",
        (SlowToFinish,),
        (send("table/slow-finish", {"n": 1}), Advance("2h")),
        (
            Run(
                "slow-to-finish",
                "Cancelled",
                steps=_CANCELLED_STEPS,
                started=0,
                ended=600,
                reason="timeouts.finish: not finished within 10m",
            ),
        ),
        journal=[],
    ),
]


# -- flow control --------------------------------------------------------------------------


class _InFlight:
    def __init__(self) -> None:
        self.now = 0


_limited = _InFlight()


async def _overlap(counter: _InFlight, everyone: int) -> None:
    """Stay in flight until `everyone` bodies are, or 500 event loop turns have passed.

    Calls that may run side by side do overlap here (each arrives within a few turns), so
    the most ever in flight, journaled on entry, is the limit the engine enforces.
    """
    counter.now += 1
    JOURNAL.append(counter.now)
    try:
        for _ in range(500):
            if counter.now >= everyone:
                return
            await asyncio.sleep(0)
    finally:
        counter.now -= 1


class Limited(InngestFunction, id="limited", event="table/limited", concurrency=2):
    @step("work")
    async def work(self, ctx: Context) -> int:
        await _overlap(_limited, 4)
        return int(ctx.event.data["n"])


class Throttled(
    InngestFunction,
    id="throttled",
    event="table/throttled",
    throttle=Throttle(limit=2, period="1m", burst=1),
):
    @step("work")
    def work(self, ctx: Context) -> int:
        return int(ctx.event.data["n"])


class RateLimited(
    InngestFunction,
    id="rate-limited",
    event="table/rate-limited",
    rate_limit=RateLimit(limit=1, period="1h"),
):
    @step("work")
    def work(self, ctx: Context) -> int:
        return int(ctx.event.data["n"])


class Debounced(
    InngestFunction, id="debounced", event="table/debounced", debounce=Debounce(period="5m")
):
    @step("work")
    def work(self, ctx: Context) -> dict[str, int]:
        return {"last": ctx.event.data["n"]}


class CappedDebounce(
    InngestFunction,
    id="capped-debounce",
    event="table/capped",
    debounce=Debounce(period="5m", timeout="10m"),
):
    @step("work")
    def work(self, ctx: Context) -> dict[str, int]:
        return {"last": ctx.event.data["n"]}


class Batched(
    InngestFunction,
    id="batched",
    event="table/batched",
    batch_events=Batch(max_size=3, timeout="1m"),
):
    @step("sum")
    def total(self, ctx: Context) -> dict[str, Any]:
        return {"ns": [event.data["n"] for event in ctx.events]}


class Idempotent(
    InngestFunction, id="idempotent", event="table/order", idempotency="event.data.order"
):
    @step("charge")
    def charge(self, ctx: Context) -> int:
        return int(ctx.event.data["order"])


class Prioritised(
    InngestFunction,
    id="prioritised",
    event="table/prioritised",
    concurrency=Concurrency(limit=1),
    priority=Priority(run="event.data.prio"),
):
    @step("work")
    def work(self, ctx: Context) -> None:
        JOURNAL.append(ctx.event.data["who"])


class SkipSingleton(
    InngestFunction, id="skip-singleton", event="table/skip", singleton=Singleton(mode="skip")
):
    @step("work")
    def work(self, ctx: Context) -> int:
        return int(ctx.event.data["n"])

    sleep("1h")


class CancelSingleton(
    InngestFunction,
    id="cancel-singleton",
    event="table/replace",
    singleton=Singleton(mode="cancel"),
):
    @step("work")
    def work(self, ctx: Context) -> int:
        return int(ctx.event.data["n"])

    sleep("1h")


class Announce(InngestFunction, id="announce", event="table/published"):
    @send_event("tell the world")
    def tell(self, ctx: Context) -> list[dict[str, Any]]:
        doc = ctx.event.data["doc"]
        return [
            {"name": "table/announced", "data": {"doc": doc, "to": "feed"}},
            {"name": "table/announced", "data": {"doc": doc, "to": "mail"}},
        ]


class Listen(InngestFunction, id="listen", event="table/announced"):
    @step("hear")
    def hear(self, ctx: Context) -> dict[str, Any]:
        return {"heard": ctx.event.data["doc"], "via": ctx.event.data["to"]}


class Morning(InngestFunction, id="morning", cron="0 9 * * *"):
    @step("report")
    def report(self, ctx: Context) -> dict[str, Any]:
        return {"scheduled": ctx.event.data["scheduledAt"]}


class ShipOrder(InngestFunction, id="ship-order", event="table/paid", retries=0):
    @step("book courier")
    def book(self, ctx: Context) -> None:
        raise RuntimeError("courier API is down")

    @on_failure
    async def refund(self, ctx: Context, failure: Failure) -> dict[str, Any]:
        return {
            "refunded": failure.event.data["order"],
            "because": failure.error.message,
            "error": failure.error.name,
        }


_EVERY_FOUR_MINUTES: tuple[Action, ...] = tuple(
    action for n in range(5) for action in (send("table/capped", {"n": n}), Advance("4m"))
)


def _work(n: int, at: float) -> Run:
    return Run(
        "throttled",
        "Completed",
        output={"work": n},
        steps=(Step("work", "Completed", ended=at),),
        queued=0,
        started=at,
        ended=at,
    )


FLOW_CASES = [
    Case(
        "concurrency",
        (Limited,),
        (send("table/limited", *({"n": n} for n in range(4))),),
        tuple(Run("limited", "Completed", output={"work": n}, ended=0) for n in range(4)),
        journal=2,
        summary=max,
    ),
    Case(
        "throttle",
        (Throttled,),
        # limit 2 + burst 1 start at once, then one every 30 s (period / limit).
        (send("table/throttled", *({"n": n} for n in range(5))), Advance("5m")),
        (_work(0, 0), _work(1, 0), _work(2, 0), _work(3, 30), _work(4, 60)),
    ),
    Case(
        "rate-limit",
        (RateLimited,),
        (
            send("table/rate-limited", *({"n": n} for n in range(3))),
            Advance("1h"),
            send("table/rate-limited", {"n": 3}),
        ),
        (
            Run("rate-limited", "Completed", output={"work": 0}, queued=0, ended=0),
            Run("rate-limited", "Skipped", steps=(), queued=0, started=None, reason="rate"),
            Run("rate-limited", "Skipped", steps=(), queued=0, started=None, reason="rate"),
            Run("rate-limited", "Completed", output={"work": 3}, queued=3600, ended=3600),
        ),
    ),
    Case(
        "debounce",
        (Debounced,),
        (
            send("table/debounced", {"n": 0}),
            Advance("2m"),
            send("table/debounced", {"n": 1}),
            Advance("2m"),
            send("table/debounced", {"n": 2}),
            Advance("4m59s"),
            Check(()),
            Advance("1h"),
        ),
        # One run, with the last event, 5 minutes after it.
        (Run("debounced", "Completed", output={"last": 2}, queued=540, ended=540),),
    ),
    Case(
        "batch-events",
        (Batched,),
        (
            send("table/batched", *({"n": n} for n in range(3))),  # a full batch runs at once
            Advance("10s"),
            send("table/batched", {"n": 3}, {"n": 4}),  # a partial one after its timeout
            Advance("5m"),
        ),
        (
            Run("batched", "Completed", output={"ns": [0, 1, 2]}, queued=0, ended=0),
            Run("batched", "Completed", output={"ns": [3, 4]}, queued=70, ended=70),
        ),
    ),
    Case(
        "idempotency",
        (Idempotent,),
        (
            send(
                "table/order",
                *({"order": order, "n": n} for n, order in enumerate([1, 1, 2, 1, 2])),
            ),
        ),
        (
            Run("idempotent", "Completed", output={"charge": 1}),
            Run("idempotent", "Skipped", steps=(), reason="idempotency"),
            Run("idempotent", "Completed", output={"charge": 2}),
            Run("idempotent", "Skipped", steps=(), reason="idempotency"),
            Run("idempotent", "Skipped", steps=(), reason="idempotency"),
        ),
    ),
    Case(
        "priority",
        (Prioritised,),
        # The first takes the only slot; the rest leave the queue by priority.
        (
            send(
                "table/prioritised",
                {"who": "first", "prio": 0, "n": 0},
                {"who": "low", "prio": -100, "n": 1},
                {"who": "plain", "prio": 0, "n": 2},
                {"who": "high", "prio": 300, "n": 3},
            ),
        ),
        tuple(Run("prioritised", "Completed", output={"work": None}, ended=0) for _ in range(4)),
        journal=["first", "high", "plain", "low"],
    ),
    Case(
        "singleton-skip",
        (SkipSingleton,),
        (
            send("table/skip", {"n": 1}),
            Advance("10m"),
            send("table/skip", {"n": 2}),  # the first is still in progress (asleep)
            Advance("1h"),
            send("table/skip", {"n": 3}),  # the first is done: this one runs
            Advance("2h"),
        ),
        (
            Run("skip-singleton", "Completed", output={"work": 1}, ended=3600),
            Run(
                "skip-singleton",
                "Skipped",
                steps=(),
                queued=600,
                started=None,
                reason="singleton",
            ),
            Run("skip-singleton", "Completed", output={"work": 3}, queued=4200, ended=7800),
        ),
    ),
    Case(
        "singleton-cancel",
        (CancelSingleton,),
        (
            send("table/replace", {"n": 1}),
            Advance("10m"),
            send("table/replace", {"n": 2}),  # replaces the first, asleep
            Advance("2h"),
        ),
        (
            Run(
                "cancel-singleton",
                "Cancelled",
                steps=(
                    Step("work", "Completed", ended=0),
                    Step("sleep 1h", "Cancelled", attempts=0, ended=600),
                ),
                ended=600,
                reason="singleton",
            ),
            Run("cancel-singleton", "Completed", output={"work": 2}, queued=600, ended=4200),
        ),
    ),
    Case(
        "debounce-timeout",
        (CappedDebounce,),
        # Events every 4 minutes never leave a quiet 5 minutes, but the timeout caps the wait
        # at 10 minutes after the first: the run starts then, with the latest event so far.
        (*_EVERY_FOUR_MINUTES, Advance("1h")),
        (
            Run("capped-debounce", "Completed", output={"last": 2}, queued=600, ended=600),
            Run("capped-debounce", "Completed", output={"last": 4}, queued=16 * 60 + 300),
        ),
    ),
    Case(
        "event-id-dedup",
        (Quote,),
        # The same event id twice (a retried send): one run.
        (
            send("table/quote", {"qty": 2}, id="quote-1"),
            Advance("1m"),
            send("table/quote", {"qty": 2}, id="quote-1"),
        ),
        (Run("quote", "Completed", output={"price": 20}, queued=0, ended=0),),
    ),
    Case(
        "send-event",
        (Announce, Listen),
        (send("table/published", {"doc": 9}),),
        (
            Run(
                "announce",
                "Completed",
                output=UNCHECKED,  # the ids of the events sent, derived from the run's id
                steps=(Step("tell the world", "Completed", ended=0),),
                ended=0,
            ),
            Run("listen", "Completed", output={"heard": 9, "via": "feed"}, queued=0, ended=0),
            Run("listen", "Completed", output={"heard": 9, "via": "mail"}, queued=0, ended=0),
        ),
    ),
    Case(
        "cron",
        (Morning,),
        (Advance("2d"),),
        (
            Run(
                "morning",
                "Completed",
                output={"scheduled": "2026-01-01T09:00:00.000Z"},
                queued=9 * 3600,
                ended=9 * 3600,
            ),
            Run(
                "morning",
                "Completed",
                output={"scheduled": "2026-01-02T09:00:00.000Z"},
                queued=33 * 3600,
                ended=33 * 3600,
            ),
        ),
    ),
    Case(
        "on-failure-handler",
        (ShipOrder,),
        (send("table/paid", {"order": "o-17"}),),
        (
            Run(
                "ship-order",
                "Failed",
                error=("RuntimeError", "courier API is down"),
                steps=(Step("book courier", "Failed", ended=0),),
                ended=0,
            ),
            Run(
                "ship-order-failure",
                "Completed",
                output={
                    "refunded": "o-17",
                    "because": "courier API is down",
                    "error": "RuntimeError",
                },
                queued=0,
                ended=0,
            ),
        ),
    ),
]


CASES: list[Case] = [*RETRY_CASES, *WAIT_CASES, *INVOKE_CASES, *CANCEL_CASES, *FLOW_CASES]


def reset() -> None:
    """Forget what earlier cases did."""
    JOURNAL.clear()
    _limited.now = 0
