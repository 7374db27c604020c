"""The public exception tree.

```
InngestError
├── DefinitionError (also TypeError)   a class body that cannot become a function
├── NotAFunctionError (also TypeError) not a concrete function class (`spec_of`, `serve`)
├── ConfigError (also ValueError)      client or serve configuration that cannot work
├── EventError (also ValueError)       an event that the event API would refuse
├── SendEventError                     the event API refused or could not be reached
├── NonRetriableError                  raise in a block: fail the run now, no retries
│   └── PayloadError (also TypeError)  a payload does not fit its event type or result type
├── RetryAfterError                    raise in a block: retry, but not before a given time
└── StepError                          a memoised step failure surfaced to the function
```
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

__all__ = [
    "ConfigError",
    "DefinitionError",
    "EventError",
    "InngestError",
    "NonRetriableError",
    "NotAFunctionError",
    "PayloadError",
    "RetryAfterError",
    "SendEventError",
    "StepError",
]


class InngestError(Exception):
    """Base class of every error raised by inngest_dsl."""


class DefinitionError(InngestError, TypeError):
    """A function class is invalid; `problems` lists every problem found, one line each."""

    def __init__(self, owner: str, problems: Sequence[str]) -> None:
        self.owner = owner
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{owner}: {len(self.problems)} {noun}:\n{lines}")


class NotAFunctionError(InngestError, TypeError):
    """`spec_of` (or `serve`, `run_function`, ...) was given something that is not a concrete
    `InngestFunction` class: another object, an abstract base, `InngestFunction` itself."""


class ConfigError(InngestError, ValueError):
    """Client or serve configuration that cannot work (missing signing key in cloud mode, ...)."""


class EventError(InngestError, ValueError):
    """An event the event API would refuse: empty or reserved name, data not JSON, ..."""


class SendEventError(InngestError):
    """The event API refused the events (`status` is its HTTP status) or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message if status is None else f"{message} (HTTP {status})")


class NonRetriableError(InngestError):
    """Raise from a block to fail the run immediately, without further retries."""


class PayloadError(NonRetriableError, TypeError):
    """A payload does not fit the type it is read as (an event type, a block's result type).

    The message names the payload and the field (`$.user_id`); retrying cannot help, so a run
    that meets one fails now.
    """


class RetryAfterError(InngestError):
    """Raise from a block to have it retried no sooner than `retry_after`.

    `retry_after` is a number of seconds, a `timedelta`, or an aware `datetime`.
    """

    def __init__(
        self, message: str, retry_after: float | _dt.timedelta | _dt.datetime
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class StepError(InngestError):
    """A step failed for good in an earlier request; raised where its result was needed.

    Carries the wire error's `name`, `message` and `stack` as recorded by the executor.
    """

    def __init__(self, message: str, *, name: str = "Error", stack: str | None = None) -> None:
        self.name = name
        self.message = message
        self.stack = stack
        super().__init__(f"{name}: {message}")
