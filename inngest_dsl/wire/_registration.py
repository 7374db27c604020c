"""Registration (PROTOCOL §5.2): a `FunctionSpec` as the sync request describes it.

Spec classes carry no wire concerns; this module maps them to the protocol's field names and
drops nulls, as the server expects, through the one converter of `_json`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any
from urllib.parse import urlencode

from attrs import frozen
from cattrs.gen import make_dict_unstructure_fn, override

from inngest_dsl.spec._durations import format_duration, parse_duration
from inngest_dsl.spec._function import CronTrigger, EventTrigger, FunctionSpec
from inngest_dsl.spec._options import Duration
from inngest_dsl.wire._json import converter

__all__ = [
    "BatchConfig",
    "CancelConfig",
    "ConcurrencyConfig",
    "DebounceConfig",
    "FunctionConfig",
    "PriorityConfig",
    "RateLimitConfig",
    "Retries",
    "Runtime",
    "SingletonConfig",
    "StepConfig",
    "ThrottleConfig",
    "TimeoutsConfig",
    "TriggerConfig",
    "function_config",
]


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
class ConcurrencyConfig:
    """One concurrency limit; no `scope` means the function's own."""

    limit: int
    key: str | None = None
    scope: str | None = None


@frozen
class ThrottleConfig:
    """Runs started per period; the excess is queued."""

    limit: int
    period: str
    burst: int
    key: str | None = None


@frozen
class RateLimitConfig:
    """Runs started per period; the excess is dropped."""

    limit: int
    period: str
    key: str | None = None


@frozen
class DebounceConfig:
    """Run once events stop arriving for `period` (at most `timeout` after the first)."""

    period: str
    key: str | None = None
    timeout: str | None = None


@frozen
class BatchConfig:
    """Wire keys `maxSize` and `if`; `timeout` in Go `time.ParseDuration` form (no days)."""

    max_size: int
    timeout: str
    key: str | None = None
    if_: str | None = None


@frozen
class CancelConfig:
    """A cancellation event; wire key `if`."""

    event: str
    if_: str | None = None
    timeout: str | None = None


@frozen
class PriorityConfig:
    """The priority expression, under `run`."""

    run: str


@frozen
class TimeoutsConfig:
    """Start and finish timeouts of a run."""

    start: str | None = None
    finish: str | None = None


@frozen
class SingletonConfig:
    """One run at a time (per key)."""

    mode: str
    key: str | None = None


@frozen
class FunctionConfig:
    """A function as the sync request registers it (PROTOCOL §5.2); unset options are omitted."""

    id: str
    name: str
    triggers: list[TriggerConfig]
    steps: dict[str, StepConfig]
    concurrency: list[ConcurrencyConfig] | None = None
    rate_limit: RateLimitConfig | None = None
    throttle: ThrottleConfig | None = None
    debounce: DebounceConfig | None = None
    batch_events: BatchConfig | None = None
    cancel: list[CancelConfig] | None = None
    priority: PriorityConfig | None = None
    idempotency: str | None = None
    timeouts: TimeoutsConfig | None = None
    singleton: SingletonConfig | None = None


# Wire keys that are not Python names (`if`) or not snake_case.
_IF = override(rename="if")
converter.register_unstructure_hook(
    BatchConfig,
    make_dict_unstructure_fn(
        BatchConfig, converter, _cattrs_omit_if_default=True,
        max_size=override(rename="maxSize"), if_=_IF,
    ),
)
converter.register_unstructure_hook(
    CancelConfig,
    make_dict_unstructure_fn(CancelConfig, converter, _cattrs_omit_if_default=True, if_=_IF),
)
converter.register_unstructure_hook(
    FunctionConfig,
    make_dict_unstructure_fn(
        FunctionConfig, converter, _cattrs_omit_if_default=True,
        rate_limit=override(rename="rateLimit"), batch_events=override(rename="batchEvents"),
    ),
)


def _trigger_config(trigger: EventTrigger | CronTrigger) -> TriggerConfig:
    if isinstance(trigger, CronTrigger):
        return TriggerConfig(cron=trigger.cron)
    return TriggerConfig(event=trigger.event, expression=trigger.expression)


def _duration(value: Duration) -> str:
    return format_duration(parse_duration(value))


def _maybe_duration(value: Duration | None) -> str | None:
    return None if value is None else _duration(value)


def _go_duration(value: Duration) -> str:
    """A duration Go's `time.ParseDuration` reads (hours at most), as `batchEvents` needs."""
    delta = parse_duration(value)
    hours, rest = divmod(delta, _dt.timedelta(hours=1))
    if hours < 24:
        return format_duration(delta)
    rest_ms = round(rest / _dt.timedelta(milliseconds=1))
    return f"{hours}h{format_duration(_dt.timedelta(milliseconds=rest_ms)) if rest_ms else ''}"


def _options_config(spec: FunctionSpec) -> dict[str, Any]:
    """The option fields of `spec`'s `FunctionConfig`; unset options stay `None`."""
    config: dict[str, Any] = {"idempotency": spec.idempotency}
    if spec.concurrency:
        config["concurrency"] = [
            ConcurrencyConfig(limit=c.limit, key=c.key, scope=c.scope) for c in spec.concurrency
        ]
    if spec.throttle is not None:
        t = spec.throttle
        config["throttle"] = ThrottleConfig(
            limit=t.limit, period=_duration(t.period), burst=t.burst, key=t.key
        )
    if spec.rate_limit is not None:
        r = spec.rate_limit
        config["rate_limit"] = RateLimitConfig(limit=r.limit, period=_duration(r.period), key=r.key)
    if spec.debounce is not None:
        d = spec.debounce
        config["debounce"] = DebounceConfig(
            period=_duration(d.period), key=d.key, timeout=_maybe_duration(d.timeout)
        )
    if spec.batch_events is not None:
        b = spec.batch_events
        config["batch_events"] = BatchConfig(
            max_size=b.max_size, timeout=_go_duration(b.timeout), key=b.key, if_=b.if_
        )
    if spec.cancel_on:
        config["cancel"] = [
            CancelConfig(event=c.event, if_=c.if_, timeout=_maybe_duration(c.timeout))
            for c in spec.cancel_on
        ]
    if spec.priority is not None:
        config["priority"] = PriorityConfig(run=spec.priority.run)
    if spec.timeouts is not None:
        config["timeouts"] = TimeoutsConfig(
            start=_maybe_duration(spec.timeouts.start), finish=_maybe_duration(spec.timeouts.finish)
        )
    if spec.singleton is not None:
        config["singleton"] = SingletonConfig(mode=spec.singleton.mode, key=spec.singleton.key)
    return config


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
        **_options_config(spec),
    )
