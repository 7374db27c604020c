"""An ASGI app for `inngest-dsl dev --app tests.devserver.cli_asgi_app:app` (uvicorn).

The same function as `cli_app`, served by `inngest_dsl.asgi` around a FastAPI app.
"""

from __future__ import annotations

from fastapi import FastAPI

from inngest_dsl import Context, Inngest, InngestFunction, step
from inngest_dsl.asgi import serve


class Hello(InngestFunction, id="hello", event="cli/hello"):
    @step("greet")
    def greet(self, ctx: Context) -> dict[str, str]:
        return {"hello": ctx.event.data["name"]}


home = FastAPI()
app = serve(Inngest("cli"), [Hello], app=home)  # INNGEST_DEV is set by `inngest-dsl dev`
