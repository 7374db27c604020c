"""CapturingClient and the inngest_client fixture: events recorded, never sent."""

from __future__ import annotations

import pytest

from inngest_dsl import Event, EventError, Inngest
from inngest_dsl.testing import CapturingClient, run_function, run_function_sync

from . import shop_flows


async def test_send_records_events_and_returns_fake_ids(inngest_client: CapturingClient) -> None:
    ids = await inngest_client.send([Event("a/one", {"n": 1}), {"name": "a/two"}])

    assert len(ids) == 2
    assert len(set(ids)) == 2
    assert inngest_client.sent == [Event("a/one", {"n": 1}), Event("a/two")]
    assert inngest_client.sent_ids == ids
    assert inngest_client.sent_named("a/two") == [Event("a/two")]
    assert await inngest_client.send([]) == []


def test_the_fixture_is_a_real_client_in_dev_mode(inngest_client: CapturingClient) -> None:
    assert isinstance(inngest_client, Inngest)
    assert inngest_client.is_dev
    assert inngest_client.send_sync({"name": "a/sync"})
    assert [e.name for e in inngest_client.sent] == ["a/sync"]
    inngest_client.clear()
    assert inngest_client.sent == []


async def test_events_are_validated_as_the_real_client_does(
    inngest_client: CapturingClient,
) -> None:
    with pytest.raises(EventError, match="reserved"):
        await inngest_client.send({"name": "inngest/function.failed"})
    with pytest.raises(EventError, match="unknown event field"):
        await inngest_client.send({"name": "a/b", "payload": {}})
    assert inngest_client.sent == []


async def test_send_sync_refuses_a_running_loop_like_the_real_client(
    inngest_client: CapturingClient,
) -> None:
    with pytest.raises(RuntimeError, match="running event loop"):
        inngest_client.send_sync({"name": "a/b"})


async def test_the_inngest_api_is_out_of_reach(inngest_client: CapturingClient) -> None:
    with pytest.raises(RuntimeError, match="does not call the Inngest API"):
        await inngest_client.api_request("GET", "/v0/runs/x/actions")


async def test_a_function_sending_through_its_module_client(
    monkeypatch: pytest.MonkeyPatch, inngest_client: CapturingClient
) -> None:
    monkeypatch.setattr(shop_flows, "client", inngest_client)

    result = await run_function(
        shop_flows.PlaceOrder, {"name": "shop/order.placed", "data": {"order_id": 7}}
    )

    assert result.status == "completed"
    assert inngest_client.sent_named("warehouse/pick") == [Event("warehouse/pick", {"order_id": 7})]
    assert [e.name for e in inngest_client.sent] == [
        "warehouse/pick",
        "billing/charge",
        "billing/receipt",
    ]
    assert result.output["pick_ids"] == inngest_client.sent_ids[:1]


def test_the_same_from_a_sync_test(
    monkeypatch: pytest.MonkeyPatch, inngest_client: CapturingClient
) -> None:
    monkeypatch.setattr(shop_flows, "client", inngest_client)
    order = {"name": "shop/order.placed", "data": {"order_id": 8}}
    result = run_function_sync(shop_flows.PlaceOrder, order)
    assert result.status == "completed"
    assert len(inngest_client.sent_named("billing/charge")) == 1
