"""inngest_dsl: durable, event-driven Inngest functions declared as Python classes."""

from inngest_dsl._event import Event
from inngest_dsl._version import __version__
from inngest_dsl.client import Inngest
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

__all__ = [
    "ConfigError",
    "DefinitionError",
    "Event",
    "EventError",
    "Inngest",
    "InngestError",
    "NonRetriableError",
    "RetryAfterError",
    "SendEventError",
    "StepError",
    "__version__",
]
