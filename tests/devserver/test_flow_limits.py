"""The dev server refuses the flow control values Inngest refuses, with a 400 naming the field."""

from __future__ import annotations

import datetime
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver.core.flow import FlowConfigError, parse_flow
from inngest_dsl.devserver.core.flow_keys import shape_run
from inngest_dsl.devserver.core.limiter import gcra
from inngest_dsl.spec import _limits

from .clocked import ClockedServer
from .conftest import APP_ID, done_response, function_config, raw_app


def _refused(config: dict[str, Any]) -> str:
    with pytest.raises(FlowConfigError) as caught:
        parse_flow(config)
    return str(caught.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"debounce": {"period": "1ms"}},
            "debounce.period: must be between 1s and 7d, got '1ms'",
        ),
        (
            {"debounce": {"period": "169h"}},
            "debounce.period: must be between 1s and 7d, got '169h'",
        ),
        (
            {"batchEvents": {"maxSize": 5, "timeout": "500ms"}},
            "batchEvents.timeout: must be at least 1s, got '500ms'",
        ),
        (
            {"batchEvents": {"maxSize": 10000, "timeout": "1s"}},
            "batchEvents.maxSize: must be at most 100",
        ),
        (
            {"rateLimit": {"limit": 1, "period": "10ms"}},
            "rateLimit.period: must be between 1s and 1d, got '10ms'",
        ),
        (
            {"rateLimit": {"limit": 1, "period": "25h"}},
            "rateLimit.period: must be between 1s and 1d, got '25h'",
        ),
        (
            {"throttle": {"limit": 1, "period": "8d"}},
            "throttle.period: must be at most 7d, got '8d'",
        ),
        ({"concurrency": [{"limit": 1}] * 3}, "concurrency: at most 2 limits, got 3"),
    ],
)
def test_values_inngest_refuses_are_refused(config: dict[str, Any], message: str) -> None:
    assert _refused(config) == message


@pytest.mark.parametrize(
    "config",
    [
        {"debounce": {"period": "1s"}},
        {"debounce": {"period": "7d"}},
        {"batchEvents": {"maxSize": 100, "timeout": "1s"}},
        {"rateLimit": {"limit": 1, "period": "1s"}},
        {"rateLimit": {"limit": 1, "period": "24h"}},
        {"throttle": {"limit": 1, "period": "7d"}},
        {"throttle": {"limit": 1, "period": "250ms"}},  # Inngest sets no minimum here
    ],
)
def test_values_at_the_bounds_are_accepted(config: dict[str, Any]) -> None:
    assert parse_flow(config) is not None


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"concurrency": float("inf")}, "concurrency[0].limit"),
        ({"concurrency": [{"limit": float("-inf")}]}, "concurrency[0].limit"),
        ({"concurrency": [{"limit": float("nan")}]}, "concurrency[0].limit"),
        ({"throttle": {"limit": float("inf"), "period": "1s"}}, "throttle.limit"),
        ({"throttle": {"limit": 1, "period": "1s", "burst": float("inf")}}, "throttle.burst"),
        ({"rateLimit": {"limit": float("nan"), "period": "1s"}}, "rateLimit.limit"),
        ({"batchEvents": {"maxSize": float("inf"), "timeout": "1s"}}, "batchEvents.maxSize"),
        ({"throttle": {"limit": 2.5, "period": "1s"}}, "throttle.limit"),
    ],
)
def test_a_non_finite_or_fractional_number_is_not_an_integer(
    config: dict[str, Any], where: str
) -> None:
    assert _refused(config) == f"{where}: must be an integer"


async def test_a_registration_with_1e400_is_a_400_naming_the_field(clocked: ClockedServer) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(None)

    async with raw_app(handler) as app:
        config = function_config(app, "fn", event="x/go", concurrency=[{"limit": 12345}])
        body = json.dumps({"url": app.url, "appName": APP_ID, "functions": [config]})
        raw = body.replace("12345", "1e400")  # JSON has no infinity; 1e400 overflows to it
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{clocked.url}/fn/register",
                data=raw,
                headers={"Content-Type": "application/json"},
            ) as response,
        ):
            reply = await response.json()
    assert response.status == 400
    assert reply["error"] == "function 'raw-fn': concurrency[0].limit: must be an integer"
    assert clocked.server.registry.functions == {}


def test_throttle_burst_zero_or_omitted_is_one_as_inngest_reads_it() -> None:
    for throttle in (
        {"limit": 3, "period": "3s", "burst": 0},
        {"limit": 3, "period": "3s"},
        {"limit": 3, "period": "3s", "burst": None},
    ):
        flow = parse_flow({"throttle": throttle})
        assert flow.throttle is not None
        assert flow.throttle.burst == 1
        gate = shape_run("fn", flow, {"name": "x", "data": {}}).throttle
        assert gate is not None
        assert gate.capacity == 4
        tat = None
        allowed = []
        for _ in range(5):
            decision = gcra(tat, 100.0, gate.period, gate.limit, gate.capacity)
            allowed.append(decision.allowed)
            tat = decision.tat if decision.allowed else tat
        assert allowed == [True, True, True, True, False]


def test_throttle_burst_adds_to_the_limit() -> None:
    flow = parse_flow({"throttle": {"limit": 2, "period": "6s", "burst": 1}})
    gate = shape_run("fn", flow, {"name": "x", "data": {}}).throttle
    assert gate is not None
    assert gate.capacity == 3


def test_duration_ranges_say_what_is_allowed() -> None:
    assert _limits.DEBOUNCE_PERIOD.problem(datetime.timedelta(days=7)) is None
    assert _limits.RATE_LIMIT_PERIOD.seconds_problem(0.5) == "must be between 1s and 1d"
    assert _limits.BATCH_TIMEOUT.seconds_problem(0.999) == "must be at least 1s"
    assert _limits.THROTTLE_PERIOD.seconds_problem(0.001) is None
    assert _limits.clamp_priority(10**9) == _limits.PRIORITY_LIMIT
    assert _limits.clamp_priority(-(10**9)) == -_limits.PRIORITY_LIMIT
    assert _limits.clamp_priority(-5) == -5
