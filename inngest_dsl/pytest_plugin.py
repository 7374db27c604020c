"""The pytest plugin, loaded through the `pytest11` entry point when inngest-dsl is installed.

Fixtures:

- `inngest_client`: a `CapturingClient` that records sent events (no network).
- `inngest_dev_server`: an async factory, `server = await inngest_dev_server([MyFn])`, that
  starts the embedded dev server and an app serving the functions on loopback ports; all of it
  is stopped after the test. Needs pytest-asyncio (pytest-aiohttp brings it).

It also prints a run's trace when an assertion on a `RunResult` or its `status` fails.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from inngest_dsl.spec._function import FunctionSpec
    from inngest_dsl.testing import CapturingClient, DevServerHarness

# Every pytest run of a project with inngest-dsl installed loads this plugin: the testing kit
# (and the dev server it runs on) loads only when a fixture asks for it.
_RESULTS = "inngest_dsl.testing._result"

__all__ = ["StartDevServer", "inngest_client", "inngest_dev_server", "pytest_assertrepr_compare"]

StartDevServer = Callable[..., Awaitable["DevServerHarness"]]
"""`await inngest_dev_server(functions, *, app_id="test-app", retry_interval=0.05,
middleware=())`."""


def _trace_of(value: object) -> str | None:
    results = sys.modules.get(_RESULTS)
    if results is None:  # no run's result or status can exist yet
        return None
    if isinstance(value, results.RunResult):
        trace: str = value.format_trace()
        return trace
    if isinstance(value, results.RunStatus) and value.trace_text:
        text: str = value.trace_text
        return text
    return None


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    """On a failed comparison involving a run's result or status, show the run's trace."""
    trace = _trace_of(left) or _trace_of(right)
    if trace is None:
        return None
    return [f"{left!r} {op} {right!r}", "", *trace.splitlines()]


@pytest.fixture
def inngest_client() -> CapturingClient:
    """A `CapturingClient`: `client.sent` lists the events sent through it."""
    from inngest_dsl.testing import CapturingClient

    return CapturingClient()


async def _dev_server_factory() -> AsyncIterator[StartDevServer]:
    """Start a dev server serving functions: `server = await inngest_dev_server([MyFn])`.

    The result is a `DevServerHarness`: `await server.send(name, data)` returns event ids,
    `await server.wait_for_run(event_id)` the finished run; `server.client` points at it.
    """
    from inngest_dsl.testing import DevServerHarness

    started: list[DevServerHarness] = []

    async def start(functions: Iterable[type | FunctionSpec], **options: Any) -> DevServerHarness:
        harness = DevServerHarness(functions, **options)
        await harness.start()
        started.append(harness)
        return harness

    try:
        yield start
    finally:
        for harness in reversed(started):
            await harness.close()


def _pytest_asyncio_missing() -> StartDevServer:
    """Needs pytest-asyncio."""
    raise pytest.UsageError(
        "the inngest_dev_server fixture needs pytest-asyncio (pip install pytest-asyncio)"
    )


def _dev_server_fixture() -> Any:
    # An async fixture needs pytest-asyncio; without it, say so when the fixture is used.
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - pytest-asyncio is part of the test extra
        return pytest.fixture(_pytest_asyncio_missing, name="inngest_dev_server")
    return pytest_asyncio.fixture(_dev_server_factory, name="inngest_dev_server")


inngest_dev_server = _dev_server_fixture()
