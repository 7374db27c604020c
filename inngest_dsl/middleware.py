"""Middleware: code that runs around every call of a function, and around sending events.

```python
from inngest_dsl import Inngest, InngestFunction
from inngest_dsl.middleware import CallError, CallInput, Middleware


class ReportErrors(Middleware):
    async def on_error(self, call: CallInput, error: CallError) -> None:
        print(f"{call.function_id} run {call.run_id}: {error.name}: {error.message}")


client = Inngest(app_id="shop", middleware=[ReportErrors()])


class Checkout(InngestFunction, event="shop/checkout", middleware=[ReportErrors()]):
    ...
```

The client's middleware runs first, then the function's; the hooks that come after
something (`after_execution`, `transform_output`, `on_error`, `after_send_events`) run in the
reverse order. `inngest_dsl.encryption` holds a middleware that encrypts step results and
event data, interoperating with the official SDKs' encryption middleware.
"""

from __future__ import annotations

from inngest_dsl._public import present
from inngest_dsl.spec._middleware import CallError, CallInput, CallOutput, Middleware, StepInfo

__all__ = ["CallError", "CallInput", "CallOutput", "Middleware", "StepInfo"]

present(__name__, globals())
