"""inngest_dsl: durable, event-driven Inngest functions declared as Python classes."""

from inngest_dsl._version import __version__
from inngest_dsl.client import Inngest
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
    RetryAfterError,
    SendEventError,
    StepError,
)
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._function import FunctionSpec, spec_of
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

__all__ = [
    "Batch",
    "Cancel",
    "Concurrency",
    "ConfigError",
    "Context",
    "Debounce",
    "DefinitionError",
    "Event",
    "EventError",
    "Failure",
    "FunctionSpec",
    "Inngest",
    "InngestError",
    "InngestFunction",
    "NonRetriableError",
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
