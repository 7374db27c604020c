"""At the wire: the JSON shapes Inngest exchanges, through one cattrs converter.

Spec classes carry no wire concerns; this module maps them to the protocol's field names and
drops nulls, as the server expects.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import attrs
import cattrs
from attrs import frozen
from cattrs.gen import make_dict_unstructure_fn, override

from inngest_dsl.errors import EventError
from inngest_dsl.spec._durations import format_duration, parse_duration
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._function import CronTrigger, EventTrigger, FunctionSpec
from inngest_dsl.spec._options import Duration

__all__ = [
    "BatchConfig",
    "CallContext",
    "CallRequest",
    "CallResult",
    "CancelConfig",
    "ConcurrencyConfig",
    "DebounceConfig",
    "ErrorBody",
    "FunctionConfig",
    "Opcode",
    "PriorityConfig",
    "RateLimitConfig",
    "Retries",
    "Runtime",
    "SingletonConfig",
    "StepConfig",
    "ThrottleConfig",
    "TimeoutsConfig",
    "TriggerConfig",
    "Userland",
    "WireError",
    "check_json",
    "converter",
    "decode_call_request",
    "decode_events",
    "dumps",
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


def to_json(value: Any) -> Any:
    """Unstructure any wire class (or container of them) to plain JSON values."""
    return converter.unstructure(value)


# ---------------------------------------------------------------------------------------------
# Call requests (PROTOCOL §6.1)


class WireError(ValueError):
    """A request the SDK cannot act on; `code` is the machine-readable reason sent back."""

    def __init__(self, message: str, code: str = "body_invalid", status: int = 400) -> None:
        self.message = message
        self.code = code
        self.status = status
        super().__init__(message)


@frozen
class CallContext:
    """The `ctx` object of a call request: facts about the run and this attempt."""

    run_id: str = ""
    attempt: int = 0
    max_attempts: int | None = None
    disable_immediate_execution: bool = False
    use_api: bool = False
    stack: tuple[str, ...] = ()
    fn_id: str = ""


@frozen
class CallRequest:
    """A decoded call request: the triggering event(s), the memo of finished ops, `ctx`.

    `steps` maps hashed step ids to their raw memo values (§7.4); the engine decodes each
    only when it reaches it.
    """

    event: Event
    events: tuple[Event, ...]
    steps: dict[str, Any]
    ctx: CallContext
    use_api: bool = False


def _int_field(raw: dict[str, Any], key: str, default: int | None) -> int | None:
    value = raw.get(key, default)
    if value is None:
        return default
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise WireError(f"ctx.{key} must be a whole number, got {value!r}")
    return int(value)


def _call_context(raw: object) -> CallContext:
    if raw is None:
        return CallContext()
    if not isinstance(raw, dict):
        raise WireError(f"ctx must be a JSON object, got {type(raw).__name__}")
    stack_raw = raw.get("stack")
    stack: tuple[str, ...] = ()
    if isinstance(stack_raw, dict):
        ids = stack_raw.get("stack")
        if isinstance(ids, list):
            stack = tuple(i for i in ids if isinstance(i, str))
    run_id = raw.get("run_id")
    fn_id = raw.get("fn_id")
    attempt = _int_field(raw, "attempt", 0)
    return CallContext(
        run_id=run_id if isinstance(run_id, str) else "",
        attempt=attempt if attempt is not None else 0,
        max_attempts=_int_field(raw, "max_attempts", None),
        disable_immediate_execution=raw.get("disable_immediate_execution") is True,
        use_api=raw.get("use_api") is True,
        stack=stack,
        fn_id=fn_id if isinstance(fn_id, str) else "",
    )


def _event(raw: object, where: str) -> Event:
    try:
        return Event.from_wire(raw)  # type: ignore[arg-type]  # from_wire checks the type
    except EventError as exc:
        raise WireError(f"{where}: {exc}") from None


def decode_events(raw: object) -> tuple[Event, ...]:
    """The `events` list of a call request (or of a `/batch` payload)."""
    if not isinstance(raw, list):
        raise WireError(f"events must be a JSON array, got {type(raw).__name__}")
    return tuple(_event(item, f"events[{index}]") for index, item in enumerate(raw))


def decode_call_request(raw: object) -> CallRequest:
    """Check and decode a parsed call request body; raises `WireError` naming what is wrong.

    Deliberately shallow: memo values stay raw until the engine reaches their op, so a
    request costs one pass over the memo at most.
    """
    if not isinstance(raw, dict):
        raise WireError(f"the call request must be a JSON object, got {type(raw).__name__}")
    ctx = _call_context(raw.get("ctx"))
    use_api = raw.get("use_api") is True or ctx.use_api
    events_raw = raw.get("events")
    events = () if events_raw is None else decode_events(events_raw)
    event_raw = raw.get("event")
    if event_raw is not None:
        event = _event(event_raw, "event")
    elif events:
        event = events[0]
    else:
        raise WireError("the call request has no event (expected `event` or `events`)")
    steps = raw.get("steps")
    if steps is None:
        steps = {}
    elif not isinstance(steps, dict):
        raise WireError(f"steps must be a JSON object, got {type(steps).__name__}")
    return CallRequest(
        event=event, events=events or (event,), steps=steps, ctx=ctx, use_api=use_api
    )


# ---------------------------------------------------------------------------------------------
# Opcodes and call responses (PROTOCOL §6.2, §7)


@frozen
class ErrorBody:
    """An error as the protocol carries it, in step ops and function-level failures."""

    name: str
    message: str
    code: str
    stack: str | None = None


@frozen
class Userland:
    """The step id as the user wrote it, and which repeat of it this is (`None` for the first)."""

    id: str
    index: int | None = None


@frozen
class Opcode:
    """One op reported in a 206 response."""

    op: str
    id: str
    name: str
    display_name: str
    userland: Userland
    opts: dict[str, Any] | None = None
    data: Any = None
    error: ErrorBody | None = None


def _unstructure_opcode(op: Opcode) -> dict[str, Any]:
    # Hand-written for the hot path; `data` stays present (even null) on StepRun, where a
    # step returning None is still a result.
    wire: dict[str, Any] = {
        "id": op.id,
        "op": op.op,
        "name": op.name,
        "displayName": op.display_name,
        "opts": op.opts,
        "userland": {"id": op.userland.id, "index": op.userland.index},
    }
    if op.op == "StepRun" or op.data is not None:
        wire["data"] = op.data
    if op.error is not None:
        wire["error"] = converter.unstructure(op.error)
    return wire


converter.register_unstructure_hook(Opcode, _unstructure_opcode)


@frozen
class CallResult:
    """What the engine decided for one call: status, JSON body, retry headers.

    `body` is a JSON value that may contain `Event`s (encoded by `dumps`); `no_retry` is the
    value of `X-Inngest-No-Retry` (`None` to omit it), `retry_after` that of `Retry-After`.
    """

    status: int
    body: Any
    no_retry: bool | None = None
    retry_after: str | None = None

    def headers(self) -> dict[str, str]:
        """The retry headers this result adds to the response."""
        headers: dict[str, str] = {}
        if self.no_retry is not None:
            headers["X-Inngest-No-Retry"] = "true" if self.no_retry else "false"
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return headers


def _encode_default(value: Any) -> Any:
    if isinstance(value, Event):
        return value.to_wire()
    if isinstance(value, Mapping):
        return dict(value)
    if attrs.has(type(value)):
        return converter.unstructure(value)
    raise TypeError(f"{type(value).__qualname__} is not JSON-serialisable")


def dumps(value: Any) -> bytes:
    """Encode a response body: wire classes via the converter, `Event`s as their wire dict."""
    return json.dumps(value, default=_encode_default, separators=(",", ":")).encode()


def check_json(value: Any) -> None:
    """Raise `TypeError`/`ValueError` if `value` cannot be sent as JSON."""
    json.dumps(value, default=_encode_default, allow_nan=False)
