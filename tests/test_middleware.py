"""Middleware: hooks around each call and each send, the client's first, the function's next."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from inngest_dsl import (
    ConfigError,
    Context,
    DefinitionError,
    Event,
    Inngest,
    InngestFunction,
    NonRetriableError,
    send_event,
    step,
)
from inngest_dsl.middleware import CallError, CallInput, CallOutput, Middleware
from inngest_dsl.testing import CapturingClient, TestEnvironment, run_function

START = "2026-01-01T00:00:00Z"


class Recorder(Middleware):
    """Writes `<name>.<hook>` to a shared log for every hook it gets."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def transform_input(self, call: CallInput) -> None:
        self.log.append(f"{self.name}.transform_input")

    async def before_execution(self, call: CallInput) -> None:
        self.log.append(f"{self.name}.before_execution")

    async def after_execution(self, call: CallInput) -> None:
        self.log.append(f"{self.name}.after_execution")

    async def transform_output(self, call: CallInput, output: CallOutput) -> None:
        step = None if output.step is None else output.step.id
        self.log.append(f"{self.name}.transform_output({step})")

    async def on_error(self, call: CallInput, error: CallError) -> None:
        self.log.append(f"{self.name}.on_error({error.step}, {error.message}, {error.final})")

    async def before_send_events(self, events: list[Event]) -> list[Event] | None:
        self.log.append(f"{self.name}.before_send_events")
        return None

    async def after_send_events(self, events: list[Event], ids: list[str]) -> None:
        self.log.append(f"{self.name}.after_send_events({len(ids)})")


LOG: list[str] = []


class Ordered(InngestFunction, id="ordered", event="app/order", middleware=[Recorder("fn", LOG)]):
    send_event("tell", events={"name": "app/told"})


async def test_the_client_middleware_runs_first_and_after_hooks_in_reverse() -> None:
    LOG.clear()
    client = CapturingClient(middleware=[Recorder("c1", LOG), Recorder("c2", LOG)])
    result = await run_function(Ordered, client=client)
    assert result.status == "completed"
    before = ["c1", "c2", "fn"]
    after = list(reversed(before))
    step_call = (
        [f"{m}.transform_input" for m in before]
        + [f"{m}.before_execution" for m in before]
        + [f"{m}.before_send_events" for m in before]
        + [f"{m}.after_send_events(1)" for m in after]
        + [f"{m}.after_execution" for m in after]
        + [f"{m}.transform_output(tell)" for m in after]
    )
    last_call = (
        [f"{m}.transform_input" for m in before]
        + [f"{m}.before_execution" for m in before]
        + [f"{m}.after_execution" for m in after]
        + [f"{m}.transform_output(None)" for m in after]
    )
    assert step_call + last_call == LOG


class Tenfold(Middleware):
    """Multiplies `n` in step results on the way out, divides it on the way in: the server
    stores ten times what the function sees."""

    async def transform_input(self, call: CallInput) -> None:
        for key, value in call.steps.items():
            if isinstance(value, dict) and "n" in value:
                call.steps[key] = {**value, "n": value["n"] // 10}
        call.event = attrs.evolve(call.event, data={**call.event.data, "seen": True})

    async def transform_output(self, call: CallInput, output: CallOutput) -> None:
        if isinstance(output.data, dict) and "n" in output.data and output.step is not None:
            output.data = {**output.data, "n": output.data["n"] * 10}


class Counts(InngestFunction, id="counts", event="app/count", middleware=[Tenfold()]):
    @step("one")
    def one(self, ctx: Context) -> dict[str, Any]:
        return {"n": 1, "seen": ctx.event.data["seen"]}

    @step("two")
    def two(self, ctx: Context) -> dict[str, int]:
        return {"m": ctx.data["n"] + 1}


async def test_transforms_change_what_the_function_sees_and_what_the_server_stores() -> None:
    async with TestEnvironment([Counts], now=START) as env:
        await env.send({"name": "app/count"})
        [run] = await env.runs(Counts)
        assert run.status == "Completed", run.raw
        assert run.step("one")["output"] == {"n": 10, "seen": True}  # stored tenfold
        assert run.step("two")["output"] == {"m": 2}  # the function saw n == 1
        assert run.output == {"n": 1, "seen": True, "m": 2}


ERRORS: list[str] = []


class Failing(InngestFunction, id="failing", event="app/fail", retries=1):
    @step("boom")
    def boom(self, ctx: Context) -> None:
        raise RuntimeError("boom")


async def test_on_error_hears_each_failed_attempt_and_whether_it_is_final() -> None:
    ERRORS.clear()
    client = CapturingClient(middleware=[Recorder("c", ERRORS)])
    result = await run_function(Failing, client=client)
    assert result.status == "failed"
    errors = [line for line in ERRORS if ".on_error" in line]
    assert errors == [
        "c.on_error(boom, boom, False)",  # a retry follows
        "c.on_error(boom, boom, True)",  # the last attempt
        "c.on_error(None, boom, True)",  # the function fails with the step's error
    ]


class Refuse(Middleware):
    async def before_execution(self, call: CallInput) -> None:
        raise NonRetriableError(f"not today, {call.function_id}")


class Refused(InngestFunction, id="refused", event="app/refused", middleware=[Refuse()]):
    @step("never")
    def never(self, ctx: Context) -> int:
        raise AssertionError("the middleware refused the call")


async def test_a_hook_that_raises_fails_the_call_as_a_body_would() -> None:
    result = await run_function(Refused)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.message == "not today, test-app-refused"


class Renamer(Middleware):
    async def before_send_events(self, events: list[Event]) -> list[Event] | None:
        return [attrs.evolve(e, name=e.name + ".renamed") for e in events]


class Wire(Inngest):
    """A client whose event API is a list: what reaches `_send` is what goes on the wire."""

    def __init__(self, sent: list[list[dict[str, Any]]], **options: Any) -> None:
        super().__init__(app_id="app", is_dev=True, **options)
        self.sent = sent

    async def _send(self, session: Any, batch: list[Event]) -> list[str]:
        self.sent.append([e.to_wire() for e in batch])
        return [f"id-{i}" for i in range(len(batch))]


async def test_client_send_runs_the_client_middleware_once() -> None:
    sent: list[list[dict[str, Any]]] = []
    log: list[str] = []
    client = Wire(sent, middleware=[Renamer(), Recorder("r", log)])
    try:
        assert await client.send({"name": "a/b"}) == ["id-0"]
    finally:
        await client.close()
    assert sent == [[{"name": "a/b.renamed", "data": {}, "user": {}}]]
    assert log == ["r.before_send_events", "r.after_send_events(1)"]


def test_send_sync_runs_the_client_middleware_too() -> None:
    sent: list[list[dict[str, Any]]] = []
    log: list[str] = []
    client = Wire(sent, middleware=[Renamer(), Recorder("r", log)])
    assert client.send_sync([{"name": "c/d"}, {"name": "e/f"}]) == ["id-0", "id-1"]
    assert [[e["name"] for e in batch] for batch in sent] == [["c/d.renamed", "e/f.renamed"]]
    assert log == ["r.before_send_events", "r.after_send_events(2)"]


def test_middleware_must_be_middleware_instances() -> None:
    with pytest.raises(ConfigError, match="Middleware instances"):
        Inngest(app_id="app", is_dev=True, middleware=[object()])  # type: ignore[list-item]
    with pytest.raises(DefinitionError, match="instantiate it"):

        class Bad(InngestFunction, event="a/b", middleware=[Recorder]):  # type: ignore[list-item]
            pass


async def test_a_capturing_client_runs_its_middleware_around_each_send() -> None:
    log: list[str] = []
    client = CapturingClient(middleware=[Renamer(), Recorder("r", log)])

    await client.send({"name": "a/b"})

    assert [event.name for event in client.sent] == ["a/b.renamed"]
    assert log == ["r.before_send_events", "r.after_send_events(1)"]


def test_a_capturing_clients_send_sync_runs_its_middleware_too() -> None:
    log: list[str] = []
    client = CapturingClient(middleware=[Renamer(), Recorder("r", log)])

    client.send_sync([{"name": "c/d"}, {"name": "e/f"}])

    assert client.sent_named("e/f.renamed") == [Event("e/f.renamed")]
    assert log == ["r.before_send_events", "r.after_send_events(2)"]


class Timed(Middleware):
    """Keeps per-call state where the guide says: in `call.state`, not on `self`."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def before_execution(self, call: CallInput) -> None:
        assert call.state == {}  # every call starts with its own, empty state
        call.state["attempt"] = call.attempt

    async def after_execution(self, call: CallInput) -> None:
        self.seen.append(call.state["attempt"])


class Flaky(InngestFunction, id="flaky", event="app/flaky", retries=1):
    @step("once flaky")
    def once(self, ctx: Context) -> str:
        if ctx.attempt == 0:
            raise RuntimeError("first try fails")
        return "ok"


async def test_hooks_of_one_call_share_its_state() -> None:
    timed = Timed()
    result = await run_function(Flaky, client=CapturingClient(middleware=[timed]), now=START)

    assert result.status == "completed"
    # The failed attempt 0, attempt 1 of the step, then the call that returns.
    assert timed.seen == [0, 1, 0]


async def test_a_test_environment_takes_the_clients_middleware() -> None:
    log: list[str] = []
    async with TestEnvironment(
        [Ordered], now=START, middleware=[Renamer(), Recorder("env", log)]
    ) as env:
        await env.client.send({"name": "app/order"})
        await env.settle()
        runs = await env.runs(Ordered)

    assert runs == []  # the client's middleware renamed the event: nothing listens to it
    assert log == ["env.before_send_events", "env.after_send_events(1)"]

    log.clear()
    async with TestEnvironment([Ordered], now=START, middleware=[Recorder("env", log)]) as env:
        await env.send({"name": "app/order"})
        [ordered] = await env.runs(Ordered, status="Completed")

    assert ordered.output is not None
    assert log[:2] == ["env.transform_input", "env.before_execution"]
    assert "env.transform_output(tell)" in log
