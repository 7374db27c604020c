"""Test functions in-process, in milliseconds: no server, no network, no real sleeping.

```python
from inngest_dsl.testing import run_function

async def test_sign_up() -> None:
    result = await run_function(
        SignUpFlow,
        {"name": "auth/signup", "data": {"user_id": "u1"}},
        steps={"send welcome": {"message_id": "m-1"}},      # mocked: the body is not called
        waits={"auth/signup.confirmed": None},              # the wait times out
    )
    assert result.status == "completed"
    assert result.step("nudge if unconfirmed").attempts == 1
```

`run_function` drives the real engine call by call as the executor would; `run_function_sync`
does the same from a plain test. Parallel groups fan out through targeted calls, an `invoke`
takes its mocked result (`steps={"charge": {...}}`) or runs the invoked function in-process,
events sent by `send_event` blocks land in a `CapturingClient` and on `result.sent_events`,
and steps added at run time with `ctx.step` show in the trace (`TraceOp.dynamic`) and are
mocked and scripted by id like declared ones. The pytest plugin (installed with the package)
adds the `inngest_client` and `inngest_dev_server` fixtures. See guides/testing.md.
"""

from __future__ import annotations

from inngest_dsl._public import present
from inngest_dsl.testing._client import CapturingClient
from inngest_dsl.testing._environment import TestEnvironment
from inngest_dsl.testing._harness import DevServerHarness
from inngest_dsl.testing._result import ErrorInfo, OpKind, RunResult, RunStatus, TraceOp
from inngest_dsl.testing._run import DEFAULT_MAX_CALLS, run_function, run_function_sync
from inngest_dsl.testing._run_inputs import EventLike, RunFunctionError
from inngest_dsl.testing._server_run import ServerRun
from inngest_dsl.testing._step_keys import CtxStep, ctx_step
from inngest_dsl.testing._sync_environment import SyncTestEnvironment
from inngest_dsl.testing._time import TestEnvironmentError

__all__ = [
    "DEFAULT_MAX_CALLS",
    "CapturingClient",
    "CtxStep",
    "DevServerHarness",
    "ErrorInfo",
    "EventLike",
    "OpKind",
    "RunFunctionError",
    "RunResult",
    "RunStatus",
    "ServerRun",
    "SyncTestEnvironment",
    "TestEnvironment",
    "TestEnvironmentError",
    "TraceOp",
    "ctx_step",
    "run_function",
    "run_function_sync",
]

present(__name__, globals())
