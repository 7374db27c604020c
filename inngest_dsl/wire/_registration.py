"""Registration (PROTOCOL §5.2): a `FunctionSpec` as the sync request describes it.

Spec classes carry no wire concerns. The function's own entry (id, name, triggers, the step)
is described here; its options are the spec's own option classes, written and read by hooks on
the one converter of `_json` that this module derives from them: wire names in camelCase
(`rateLimit`, `maxSize`, `if`) through `override(rename=...)`, durations as time strings, nulls
and empty lists dropped as the server expects. The dev server reads a registration's options
back into the same classes (`options_from_wire`), checked by the same rules.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from attrs import field, frozen

import inngest_dsl.wire._options  # noqa: F401  # the options' hooks on the converter
from inngest_dsl.spec._durations import format_duration
from inngest_dsl.spec._event_types import name_of
from inngest_dsl.spec._function import CronTrigger, EventTrigger, FunctionSpec
from inngest_dsl.spec._options import FunctionOptions
from inngest_dsl.wire._json import converter

__all__ = [
    "FunctionConfig",
    "Retries",
    "Runtime",
    "StepConfig",
    "TriggerConfig",
    "function_config",
]


@frozen
class TriggerConfig:
    """One trigger: an event name with an optional CEL filter, or a cron schedule and its jitter."""

    event: str | None = None
    expression: str | None = None
    cron: str | None = None
    jitter: str | None = None


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
    """A function as the sync request registers it (PROTOCOL §5.2); unset options are omitted."""

    id: str
    name: str
    triggers: list[TriggerConfig]
    steps: dict[str, StepConfig]
    options: FunctionOptions = field(factory=FunctionOptions)


def _trigger_config(trigger: EventTrigger | CronTrigger) -> TriggerConfig:
    if isinstance(trigger, CronTrigger):
        jitter = trigger.jitter
        if isinstance(jitter, timedelta):
            return TriggerConfig(cron=trigger.cron, jitter=format_duration(jitter))
        return TriggerConfig(cron=trigger.cron, jitter=jitter)
    # A compiled spec's triggers carry names; `name_of` covers a hand-built one.
    return TriggerConfig(event=name_of(trigger.event), expression=trigger.expression)


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
        options=spec,
    )


converter.register_unstructure_hook(
    FunctionConfig,
    lambda config: {
        **{
            name: converter.unstructure(getattr(config, name))
            for name in ("id", "name", "triggers", "steps")
        },
        **converter.unstructure(config.options, FunctionOptions),
    },
)
