"""inngest_dsl: durable, event-driven Inngest functions declared as Python classes.

These names are the public API. They are defined in the private modules of the package's
layers (ARCHITECTURE.md) and presented at this path. `Inngest`, the client, loads when it is
first used: the DSL and the engine import no HTTP library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inngest_dsl._public import present
from inngest_dsl._version import __version__
from inngest_dsl.dsl._discover import discover
from inngest_dsl.dsl._function import InngestFunction
from inngest_dsl.dsl._verbs import (
    invoke,
    on_failure,
    parallel,
    run,
    send_event,
    sleep,
    sleep_until,
    step,
    wait_for_event,
)
from inngest_dsl.engine._context import Context
from inngest_dsl.engine._failure import Failure, failure_spec
from inngest_dsl.errors import (
    ConfigError,
    DefinitionError,
    EventError,
    InngestError,
    NonRetriableError,
    NotAFunctionError,
    PayloadError,
    RetryAfterError,
    SendEventError,
    StepError,
)
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._event_types import event_type
from inngest_dsl.spec._function import CronTrigger, EventTrigger, FunctionSpec, spec_of
from inngest_dsl.spec._options import (
    Batch,
    Cancel,
    Concurrency,
    Debounce,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
    Timeouts,
)

if TYPE_CHECKING:
    from inngest_dsl.client import Inngest

__all__ = [
    "Batch",
    "Cancel",
    "Concurrency",
    "ConfigError",
    "Context",
    "CronTrigger",
    "Debounce",
    "DefinitionError",
    "Event",
    "EventError",
    "EventTrigger",
    "Failure",
    "FunctionSpec",
    "Inngest",
    "InngestError",
    "InngestFunction",
    "NonRetriableError",
    "NotAFunctionError",
    "PayloadError",
    "Priority",
    "RateLimit",
    "RetryAfterError",
    "SendEventError",
    "Singleton",
    "StepError",
    "Throttle",
    "Timeouts",
    "__version__",
    "discover",
    "event_type",
    "failure_spec",
    "invoke",
    "on_failure",
    "parallel",
    "run",
    "send_event",
    "sleep",
    "sleep_until",
    "spec_of",
    "step",
    "wait_for_event",
]

present(__name__, globals())


def __getattr__(name: str) -> Any:
    if name == "Inngest":
        from inngest_dsl.client import Inngest

        globals()["Inngest"] = Inngest
        return Inngest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
