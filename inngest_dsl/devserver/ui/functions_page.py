"""The functions list, and one function's page: its triggers and next cron fires, its
retries and every flow control option, its live flow control state, its runs, and forms to
invoke it and to cancel many of its runs."""

from __future__ import annotations

import datetime
import json
from typing import Any

import attrs
from aiohttp import web

from inngest_dsl.devserver.core.engine import Engine
from inngest_dsl.devserver.core.flow_keys import gates_of
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.http.keys import CLOCK, ENGINE, STORE
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.store.search import RunQuery
from inngest_dsl.devserver.ui.markup import format_duration, render
from inngest_dsl.devserver.ui.run_page import not_found
from inngest_dsl.devserver.ui.runs_page import function_names
from inngest_dsl.spec import _cron

__all__ = ["function", "functions"]

CRON_FIRES = 5
RECENT_RUNS = 20
_LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


async def functions(request: web.Request) -> web.Response:
    store = request.app[STORE]
    registry = request.app[ENGINE].registry
    rows = [(f, registry.get(f.id)) for f in store.list_functions()]
    return render(request, "functions.html", {"active": "/functions", "functions": rows})


@attrs.frozen
class ConcurrencyUse:
    key: str
    in_flight: int
    limit: int


def _cron_fires(expression: str, now: float) -> list[float]:
    fires: list[float] = []
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    for _ in range(CRON_FIRES):
        try:
            moment = _cron.next_fire(expression, moment)
        except ValueError:
            break
        fires.append(moment.timestamp())
    return fires


def _options(info: FunctionInfo | None) -> list[tuple[str, str]]:
    """Every flow control option set, in words."""
    if info is None:
        return []
    flow = info.flow
    shown: list[tuple[str, str]] = []
    for limit in flow.concurrency:
        key = f" per {limit.key}" if limit.key else ""
        shown.append(("Concurrency", f"{limit.limit} at once{key} (scope {limit.scope})"))
    for label, window in (("Throttle", flow.throttle), ("Rate limit", flow.rate_limit)):
        if window is not None:
            burst = f", burst {window.burst}" if label == "Throttle" and window.burst else ""
            key = f" per {window.key}" if window.key else ""
            shown.append(
                (label, f"{window.limit} per {format_duration(window.period)}{burst}{key}")
            )
    if flow.idempotency:
        shown.append(("Idempotency", f"one run per {flow.idempotency} in 24 h"))
    if flow.debounce is not None:
        d = flow.debounce
        text = f"run {format_duration(d.period)} after the last event"
        text += f" per {d.key}" if d.key else ""
        text += f", at most {format_duration(d.timeout)} after the first" if d.timeout else ""
        shown.append(("Debounce", text))
    if flow.batch is not None:
        b = flow.batch
        text = f"up to {b.max_size} events, or after {format_duration(b.timeout)}"
        text += f" per {b.key}" if b.key else ""
        text += f" if {b.condition}" if b.condition else ""
        shown.append(("Batch", text))
    if flow.priority:
        shown.append(("Priority", f"run = {flow.priority}"))
    if flow.singleton is not None:
        key = f" per {flow.singleton.key}" if flow.singleton.key else ""
        shown.append(("Singleton", f"mode {flow.singleton.mode}{key}"))
    for label, seconds in (
        ("Start timeout", flow.start_timeout),
        ("Finish timeout", flow.finish_timeout),
    ):
        if seconds is not None:
            shown.append((label, format_duration(seconds)))
    for cancel in info.cancel:
        text = cancel.event + (f" if {cancel.expression}" if cancel.expression else "")
        text += f" within {cancel.timeout}" if cancel.timeout else ""
        shown.append(("Cancel on", text))
    return shown


def _concurrency_in_use(engine: Engine, function_id: str) -> list[ConcurrencyUse]:
    """The concurrency keys of the function's live runs, and the slots each holds now."""
    live, _ = engine.store.filter_runs(
        time_column="queued_at", since=0.0, statuses=_LIVE, function_ids=[function_id], limit=-1
    )
    keys: dict[str, int] = {}
    for run in live:
        concurrency, _ = gates_of(run.flow_json)
        for key, limit in concurrency:
            keys[key] = limit
    gates = engine.executor.gates
    return [ConcurrencyUse(_key_text(k), gates.in_flight(k), n) for k, n in sorted(keys.items())]


def _key_text(key: str) -> str:
    """A stored key (canonical JSON of its parts) as `scope / value`."""
    try:
        parts = json.loads(key)
    except json.JSONDecodeError:
        return key
    if isinstance(parts, list):
        return " / ".join(str(p) for p in parts if p != "")
    return key


def _buckets(engine: Engine, function_id: str) -> list[tuple[str, str, float]]:
    """Throttle and rate limit buckets of the function: option, key value, and when the
    bucket is full again (its theoretical arrival time)."""
    found = []
    for option in ("throttle", "rateLimit"):
        prefix = json.dumps([option, function_id], separators=(",", ":"))[:-1] + ","
        for key, tat in engine.store.limiter_buckets(prefix):
            parts = json.loads(key)
            found.append((option, str(parts[-1]) if len(parts) > 2 else "", tat))
    return found


async def function(request: web.Request) -> web.Response:
    store = request.app[STORE]
    engine = request.app[ENGINE]
    function_id = request.match_info["function_id"]
    record = next((f for f in store.list_functions() if f.id == function_id), None)
    if record is None:
        return not_found(request, "Function", function_id)
    now = request.app[CLOCK].now()
    info = engine.registry.get(function_id)
    config: dict[str, Any] = record.config
    triggers = [t for t in config.get("triggers") or [] if isinstance(t, dict)]
    crons = [(t["cron"], _cron_fires(str(t["cron"]), now)) for t in triggers if t.get("cron")]
    runs = store.search_runs(RunQuery(function_ids=[function_id], limit=RECENT_RUNS))
    context = {
        "active": "/functions",
        "live": True,
        "function": record,
        "info": info,
        "config": config,
        "triggers": triggers,
        "crons": crons,
        "retries": None if info is None else info.max_attempts - 1,
        "options": _options(info),
        "concurrency": _concurrency_in_use(engine, function_id),
        "debounces": store.debounces_of(function_id),
        "batches": store.batches_of(function_id),
        "buckets": _buckets(engine, function_id),
        "runs": runs.runs,
        "more_runs": runs.cursor is not None,
        "counts": store.count_runs(function_id),
        "names": function_names(request),
        "now": now,
    }
    return render(request, "function.html", context)
