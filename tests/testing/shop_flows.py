"""A module the way users write one: functions that close over a module-level client."""

from __future__ import annotations

from inngest_dsl import Context, Inngest, InngestFunction, step

client = Inngest(app_id="shop", is_dev=True)


class PlaceOrder(InngestFunction, id="place-order", event="shop/order.placed"):
    @step("notify warehouse")
    async def notify(self, ctx: Context) -> dict[str, list[str]]:
        ids = await client.send(
            {"name": "warehouse/pick", "data": {"order_id": ctx.event.data["order_id"]}}
        )
        return {"pick_ids": ids}

    @step("notify billing")
    def bill(self, ctx: Context) -> None:
        # A sync body runs in a worker thread, where send_sync is allowed.
        client.send_sync(
            [
                {"name": "billing/charge", "data": {"order_id": ctx.event.data["order_id"]}},
                {"name": "billing/receipt", "data": {"order_id": ctx.event.data["order_id"]}},
            ]
        )
