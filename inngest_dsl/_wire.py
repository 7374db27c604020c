"""At the wire: the JSON shapes Inngest exchanges, through one cattrs converter.

Spec classes carry no wire concerns; this module maps them to the protocol's field names and
drops nulls, as the server expects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import cattrs
from attrs import frozen

from inngest_dsl._spec import CronTrigger, EventTrigger, FunctionSpec

__all__ = [
    "FunctionConfig",
    "Retries",
    "Runtime",
    "StepConfig",
    "TriggerConfig",
    "converter",
    "function_config",
    "to_json",
]

converter = cattrs.Converter(omit_if_default=True)
"""The one converter for wire JSON; attributes left at their default (`None`) are omitted."""


@frozen
class TriggerConfig:
    """One trigger: an event name with an optional CEL filter, or a cron schedule."""

    event: str | None = None
    expression: str | None = None
    cron: str | None = None


@frozen
class Runtime:
    """Where the executor calls the function."""

    type: str
    url: str


@frozen
class Retries:
    """How many times to retry a failed request (not attempts: retries)."""

    attempts: int


@frozen
class StepConfig:
    """The single step entry every function registers, conventionally named `step`."""

    id: str
    name: str
    runtime: Runtime
    retries: Retries | None = None


@frozen
class FunctionConfig:
    """A function as the sync request registers it (PROTOCOL §5.2)."""

    id: str
    name: str
    triggers: list[TriggerConfig]
    steps: dict[str, StepConfig]


def _trigger_config(trigger: EventTrigger | CronTrigger) -> TriggerConfig:
    if isinstance(trigger, CronTrigger):
        return TriggerConfig(cron=trigger.cron)
    return TriggerConfig(event=trigger.event, expression=trigger.expression)


def function_config(spec: FunctionSpec, app_id: str, serve_url: str) -> FunctionConfig:
    """The registration entry of `spec` in app `app_id`, served at `serve_url`."""
    composite = spec.composite_id(app_id)
    separator = "&" if "?" in serve_url else "?"
    step_url = f"{serve_url}{separator}{urlencode({'fnId': composite, 'stepId': 'step'})}"
    retries = None if spec.retries is None else Retries(attempts=spec.retries)
    return FunctionConfig(
        id=composite,
        name=spec.name,
        triggers=[_trigger_config(t) for t in spec.triggers],
        steps={
            "step": StepConfig(
                id="step", name="step", runtime=Runtime(type="http", url=step_url), retries=retries
            )
        },
    )


def to_json(value: Any) -> Any:
    """Unstructure any wire class (or container of them) to plain JSON values."""
    return converter.unstructure(value)
