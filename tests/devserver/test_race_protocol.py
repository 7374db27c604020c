"""Race mode at the wire: ops marked `opts.parallelMode: "race"` (PROTOCOL §7.5) make the dev
server ask for a discovery after each completion, not once all members are in."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inngest_dsl.devserver.store.records import RunStatus

from .conftest import RawEnvironment, done_response, function_config, op, ops_response

RACE = {"parallelMode": "race"}


async def test_a_race_member_finishing_asks_for_a_discovery_at_once(env: RawEnvironment) -> None:
    discoveries: list[tuple[float, list[str]]] = []
    start = env.now()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if step_id == "a":
            return ops_response(op("StepRun", "a", data="a done"))
        done = sorted(body["steps"])
        discoveries.append((env.now() - start, done))
        if done == ["a", "b"]:
            return done_response({"first": body["ctx"]["stack"]["stack"][0]})
        # Like an SDK replaying a race group: every unfinished member is reported again.
        members = [
            op("StepPlanned", "a", opts=RACE),
            op("Sleep", "b", opts={"duration": "1h", **RACE}),
        ]
        return ops_response(*(m for m in members if m["id"] not in done))

    app = env.app(handler)
    env.register(app, function_config(app, "race", event="app/race"))
    await env.send({"name": "app/race"})
    run = await env.finished_run("raw-race")
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"first": "a"}
    # Discovery at once after "a" (the sleep still on), then after "b" woke, an hour later.
    assert discoveries == [(0.0, []), (0.0, ["a"]), (3600.0, ["a", "b"])]
    # "a" ran once; the re-reported sleep was not started twice (no extra discovery above).
    assert [c[0] for c in app.calls].count("a") == 1
    steps = {s.step_id: s for s in env.store.list_steps(run.run_id)}
    assert steps["b"].status == "Completed"
    assert steps["b"].opts == {"duration": "1h", **RACE}


async def test_wait_mode_still_waits_for_every_member(env: RawEnvironment) -> None:
    discoveries: list[tuple[float, list[str]]] = []
    start = env.now()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if step_id == "a":
            return ops_response(op("StepRun", "a", data="a done"))
        done = sorted(body["steps"])
        discoveries.append((env.now() - start, done))
        if done:
            return done_response("ok")
        return ops_response(op("StepPlanned", "a"), op("Sleep", "b", opts={"duration": "1h"}))

    app = env.app(handler)
    env.register(app, function_config(app, "wait", event="app/wait"))
    await env.send({"name": "app/wait"})
    await env.finished_run("raw-wait")
    assert discoveries == [(0.0, []), (3600.0, ["a", "b"])]
