"""The engine on invoke, send_event and parallel blocks: opcode shapes, memo, targeting."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    DefinitionError,
    Event,
    InngestFunction,
    invoke,
    parallel,
    run,
    send_event,
    sleep,
    sleep_until,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.engine._execute import execute
from inngest_dsl.engine._outcomes import event_id, hash_step_id
from inngest_dsl.engine._plan import plan_for
from inngest_dsl.spec._function import ParallelOp, StepOp
from inngest_dsl.testing import CapturingClient
from inngest_dsl.wire._calls import decode_call_request
from inngest_dsl.wire._responses import CallResult

calls: Counter[str] = Counter()
seen: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def reset() -> None:
    calls.clear()
    seen.clear()


def request(steps: dict[str, Any] | None = None, **ctx: Any) -> Any:
    return decode_call_request(
        {
            "event": {"name": "app/go", "data": {"n": 1}},
            "steps": steps or {},
            "ctx": {"run_id": "R1", "attempt": 0, "max_attempts": 3, **ctx},
        }
    )


async def call(
    cls: type, steps: dict[str, Any] | None = None, *, target: str | None = None, **kw: Any
) -> CallResult:
    client = kw.pop("client", None)
    return await execute(
        plan_for(spec_of(cls)), request(steps, **kw), target=target, app_id="shop", client=client
    )


def ops(result: CallResult) -> list[dict[str, Any]]:
    from inngest_dsl.wire._json import to_json

    assert result.status == 206, result.body
    return [to_json(op) for op in result.body]


# -- invoke ---------------------------------------------------------------------------------


class Charge(InngestFunction, id="charge", event="app/charge"):
    @step("charge")
    def charge(self, ctx: Context) -> dict[str, Any]:
        return {"charged": ctx.event.data["amount"]}


class Checkout(InngestFunction, id="checkout", event="app/go"):
    invoke("plain", function=Charge, data={"amount": 5})

    @invoke("computed", function="billing-refund", timeout="1h")
    def computed(self, ctx: Context) -> dict[str, Any]:
        calls["computed"] += 1
        return {"amount": ctx.data["charged"] * 2}

    @step("after")
    def after(self, ctx: Context) -> dict[str, Any]:
        return {"seen": dict(ctx.data)}


async def test_plain_invoke_reports_invoke_function_with_the_app_composite_id() -> None:
    [op] = ops(await call(Checkout))
    assert op == {
        "id": hash_step_id("plain"),
        "op": "InvokeFunction",
        "name": "plain",
        "displayName": "plain",
        "opts": {
            "function_id": "shop-charge",
            "payload": {"data": {"amount": 5}, "v": None},
            "timeout": None,
        },
        "userland": {"id": "plain", "index": None},
        "data": None,
    }


async def test_invoke_body_gives_the_payload_and_a_string_id_is_used_as_is() -> None:
    memo = {hash_step_id("plain"): {"data": {"charged": 5}}}
    [op] = ops(await call(Checkout, memo))
    assert op["opts"] == {
        "function_id": "billing-refund",
        "payload": {"data": {"amount": 10}, "v": None},
        "timeout": "1h",
    }
    assert calls["computed"] == 1


async def test_invoke_results_fold_like_steps_and_bodies_do_not_rerun() -> None:
    memo = {
        hash_step_id("plain"): {"data": {"charged": 5}},
        hash_step_id("computed"): {"data": "refunded"},
    }
    [op] = ops(await call(Checkout, memo))
    assert op["op"] == "StepRun"
    # Merged like a step's result, and kept whole under the invoke's id.
    assert op["data"] == {
        "seen": {"charged": 5, "plain": {"charged": 5}, "computed": "refunded"}
    }
    assert calls["computed"] == 0


async def test_a_failed_or_timed_out_invoke_fails_the_function_without_retry() -> None:
    timeout = {
        "name": "InngestInvokeTimeoutError",
        "message": "Timed out waiting for invoked function to complete",
    }
    result = await call(Checkout, {hash_step_id("plain"): {"error": timeout}})
    assert (result.status, result.no_retry, result.body.code) == (500, True, "step_errored")
    assert result.body.name == "InngestInvokeTimeoutError"


class BadPayload(InngestFunction, id="bad-payload", event="app/go"):
    @invoke("bad", function=Charge)
    def bad(self, ctx: Context) -> Any:
        return ["not", "a", "mapping"]


async def test_an_invoke_body_must_return_a_mapping() -> None:
    result = await call(BadPayload)
    assert (result.status, result.no_retry, result.body.code) == (500, True, "invalid_invoke_data")
    assert "invoke 'bad' must return a mapping" in result.body.message


# -- send_event -----------------------------------------------------------------------------


class Notify(InngestFunction, id="notify", event="app/go"):
    send_event("static", events={"name": "app/static", "data": {"k": 1}})

    @send_event("computed")
    async def computed(self, ctx: Context) -> list[Event | dict[str, Any]]:
        calls["computed"] += 1
        return [Event("app/one", {"n": ctx.event.data["n"]}), {"name": "app/two", "id": "mine"}]

    @step("after")
    def after(self, ctx: Context) -> dict[str, Any]:
        return {"seen": dict(ctx.data)}


async def test_send_event_sends_through_the_client_with_deterministic_ids() -> None:
    client = CapturingClient("shop")
    [op] = ops(await call(Notify, client=client))
    assert op["op"] == "StepRun"
    assert op["data"] == {"ids": client.sent_ids}
    [sent] = client.sent
    assert sent.name == "app/static"
    assert sent.id == event_id("R1", hash_step_id("static"), 0)

    memo = {hash_step_id("static"): {"data": op["data"]}}
    [op] = ops(await call(Notify, memo, client=client))
    one, two = client.sent[1:]
    assert (one.name, one.data, one.id) == (
        "app/one",
        {"n": 1},
        event_id("R1", hash_step_id("computed"), 0),
    )
    assert two.id == "mine"  # an id the user gave is kept


async def test_a_retried_send_reuses_the_same_ids() -> None:
    first, second = CapturingClient("shop"), CapturingClient("shop")
    await call(Notify, client=first)
    await call(Notify, client=second, attempt=1)
    assert [e.id for e in first.sent] == [e.id for e in second.sent]
    other_run = CapturingClient("shop")
    await execute(plan_for(spec_of(Notify)), request(run_id="R2"), app_id="shop", client=other_run)
    assert other_run.sent[0].id != first.sent[0].id


async def test_sent_ids_are_stored_under_the_block_id() -> None:
    memo = {
        hash_step_id("static"): {"data": {"ids": ["a"]}},
        hash_step_id("computed"): {"data": ["b", "c"]},  # the official Python SDK's shape
    }
    [op] = ops(await call(Notify, memo))
    assert op["data"] == {"seen": {"static": ["a"], "computed": ["b", "c"]}}


async def test_send_event_is_planned_when_immediate_execution_is_disabled() -> None:
    client = CapturingClient("shop")
    [op] = ops(await call(Notify, client=client, disable_immediate_execution=True))
    assert op["op"] == "StepPlanned"
    assert client.sent == []
    [op] = ops(
        await call(
            Notify, client=client, disable_immediate_execution=True, target=hash_step_id("static")
        )
    )
    assert op["op"] == "StepRun"
    assert len(client.sent) == 1


async def test_send_event_without_a_client_fails_clearly() -> None:
    result = await call(Notify)
    assert (result.status, result.no_retry) == (500, True)
    assert "send_event 'static' has no Inngest client" in result.body.message


class BadEvents(InngestFunction, id="bad-events", event="app/go"):
    @send_event("bad")
    def bad(self, ctx: Context) -> Any:
        return 42


async def test_a_send_body_that_returns_no_events_fails_without_retry() -> None:
    result = await call(BadEvents, client=CapturingClient("shop"))
    assert (result.status, result.no_retry) == (500, True)
    assert "send_event 'bad' must give an Event" in result.body.message


# -- parallel -------------------------------------------------------------------------------


class FanOut(InngestFunction, id="fan-out", event="app/go"):
    @step("before")
    def before(self, ctx: Context) -> dict[str, int]:
        return {"before": 1, "shared": 0}

    with parallel("reserve and charge"):

        @step("reserve")
        def reserve(self, ctx: Context) -> dict[str, int]:
            calls["reserve"] += 1
            seen["reserve"] = dict(ctx.data)
            return {"reserved": 1, "shared": 1}

        @step("charge")
        async def charge(self, ctx: Context) -> dict[str, int]:
            calls["charge"] += 1
            seen["charge"] = dict(ctx.data)
            return {"charged": 1, "shared": 2}

        sleep("1m")
        wait_for_event("app/ok", timeout="1h")
        invoke("audit", function=Charge, data={"amount": 1})

    @step("after")
    def after(self, ctx: Context) -> dict[str, Any]:
        return dict(ctx.data)


BEFORE = {hash_step_id("before"): {"data": {"before": 1, "shared": 0}}}
RESERVE, CHARGE = hash_step_id("reserve"), hash_step_id("charge")
GROUP_DONE = {
    RESERVE: {"data": {"reserved": 1, "shared": 1}},
    CHARGE: {"data": {"charged": 1, "shared": 2}},
    hash_step_id("sleep 1m"): None,
    hash_step_id("app/ok"): None,
    hash_step_id("audit"): {"data": {"charged": 1}},
}


def test_the_group_is_a_marker_before_its_members() -> None:
    spec = spec_of(FanOut)
    assert spec.ops[1] == ParallelOp(id="reserve and charge", size=5)
    assert isinstance(spec.ops[2], StepOp)


async def test_reaching_a_group_reports_every_unfinished_member_in_one_response() -> None:
    reported = ops(await call(FanOut, BEFORE))
    assert [(o["op"], o["displayName"]) for o in reported] == [
        ("StepPlanned", "reserve"),
        ("StepPlanned", "charge"),
        ("Sleep", "sleep 1m"),
        ("WaitForEvent", "app/ok"),
        ("InvokeFunction", "audit"),
    ]
    assert [o["data"] for o in reported] == [None] * 5
    assert calls == {}


async def test_finished_members_are_not_reported_again() -> None:
    memo = {**BEFORE, RESERVE: GROUP_DONE[RESERVE], hash_step_id("sleep 1m"): None}
    reported = ops(await call(FanOut, memo))
    assert [o["displayName"] for o in reported] == ["charge", "app/ok", "audit"]


async def test_a_targeted_call_runs_just_that_member_with_the_data_before_the_group() -> None:
    memo = {**BEFORE, RESERVE: GROUP_DONE[RESERVE]}
    [op] = ops(await call(FanOut, memo, target=CHARGE, disable_immediate_execution=True))
    assert (op["op"], op["id"], op["data"]) == ("StepRun", CHARGE, {"charged": 1, "shared": 2})
    assert calls == {"charge": 1}
    assert seen["charge"] == {"before": 1, "shared": 0}  # not the sibling's result


async def test_a_target_outside_the_unfinished_members_is_refused() -> None:
    result = await call(FanOut, BEFORE, target=hash_step_id("after"))
    assert (result.status, result.body.code) == (500, "step_unexpected")
    assert calls == {}


async def test_once_all_members_finished_results_fold_in_declaration_order() -> None:
    [op] = ops(await call(FanOut, {**BEFORE, **GROUP_DONE}))
    assert op["displayName"] == "after"
    assert op["data"] == {
        "before": 1,
        "shared": 2,  # charge is declared after reserve: its value wins
        "reserved": 1,
        "charged": 1,
        "app/ok": None,
        "audit": {"charged": 1},  # an invoke's result, kept under its id too
    }
    assert calls == {}


async def test_a_memoised_member_failure_fails_the_function() -> None:
    memo = {**BEFORE, CHARGE: {"error": {"name": "ValueError", "message": "declined"}}}
    result = await call(FanOut, memo)
    assert (result.status, result.no_retry, result.body.message) == (500, True, "declined")


class UntilInGroup(InngestFunction, id="until-in-group", event="app/go"):
    with parallel("both"):

        @sleep_until("later")
        def later(self, ctx: Context) -> str:
            return "2031-01-01T00:00:00Z"

        @send_event("ping")
        def ping(self, ctx: Context) -> dict[str, str]:
            return {"name": "app/ping"}


async def test_group_members_with_bodies_report_their_own_ops() -> None:
    reported = ops(await call(UntilInGroup, client=CapturingClient("shop")))
    assert [(o["op"], o["name"]) for o in reported] == [
        ("Sleep", "2031-01-01T00:00:00.000Z"),
        ("StepPlanned", "ping"),
    ]


# -- definition-time checks -----------------------------------------------------------------


def test_misused_blocks_are_reported_together() -> None:
    with pytest.raises(DefinitionError) as info:

        class Broken(InngestFunction, event="app/go"):
            invoke("no target", function=object)
            invoke("bad data", function=Charge, data={"x": {1, 2}})
            invoke("bad timeout", function=Charge, timeout="soon")

            @invoke("both", function=Charge, data={"x": 1})
            def both(self, ctx: Context) -> None: ...

            send_event("nothing to send")
            send_event("bad event", events={"data": {}})

            with parallel("empty"):
                pass

            with parallel("outer"):

                @run("log")
                def log(self, ctx: Context) -> None: ...

                with parallel("inner"):
                    sleep("1s")

    problems = "\n".join(info.value.problems)
    assert "invoke 'no target': function= must be a concrete InngestFunction" in problems
    assert "invoke 'bad data': data= is not JSON-serialisable" in problems
    assert "invoke 'bad timeout': timeout:" in problems
    assert "invoke 'both': give data= or decorate a method, not both" in problems
    assert "send_event 'nothing to send': give events=" in problems
    assert "send_event 'bad event': event has no name" in problems
    assert "parallel 'empty': the group declares no blocks" in problems
    assert "parallel 'outer': run block 'log' cannot run in parallel" in problems
    assert "parallel 'inner': parallel groups cannot be nested" in problems


def test_a_group_used_without_with_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as info:

        class Forgot(InngestFunction, event="app/go"):
            parallel("side by side")

            @step("a")
            def a(self, ctx: Context) -> None: ...

    assert info.value.problems == (
        "parallel 'side by side': use it as `with parallel(...):` around the blocks it groups",
    )


def test_an_abstract_base_is_not_an_invoke_target() -> None:
    class Base(InngestFunction, abstract=True):
        pass

    with pytest.raises(DefinitionError, match="must be a concrete InngestFunction"):

        class Caller(InngestFunction, event="app/go"):
            invoke("call base", function=Base)


def test_a_hand_built_group_must_fit_the_ops() -> None:
    import attrs

    spec = spec_of(FanOut)
    broken = attrs.evolve(spec, ops=(*spec.ops[:-1], ParallelOp("tail", size=2)))
    with pytest.raises(ValueError, match="parallel 'tail' must be followed by 2 memoised ops"):
        plan_for(broken)


def test_verbs_outside_a_class_body_are_refused() -> None:
    with pytest.raises(DefinitionError, match=r"parallel\(\) can only be called"):
        parallel("loose")
    with pytest.raises(DefinitionError, match=r"invoke\(\) can only be called"):
        invoke("loose", function=Charge)
