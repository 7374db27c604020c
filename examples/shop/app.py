"""The shop's web app: its functions served to Inngest at /api/inngest.

Run it on the embedded dev server with `inngest-dsl dev --app examples.shop.app:app`.
"""

from __future__ import annotations

from aiohttp import web

from inngest_dsl import Inngest, discover
from inngest_dsl.aiohttp import serve

client = Inngest(app_id="shop")


def create_app() -> web.Application:
    """The aiohttp application, with every function of `examples.shop.flows` served."""
    app = web.Application()
    serve(app, client, discover("examples.shop.flows"))
    return app


app = create_app()
