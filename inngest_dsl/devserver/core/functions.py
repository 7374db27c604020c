"""Registration: validating an app's FunctionConfigs (§5.2) and the registry of live functions."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from inngest_dsl.devserver.core.flow import (
    NO_FLOW,
    FlowConfigError,
    FlowControl,
    flow_of,
    parse_options,
)
from inngest_dsl.devserver.core.matching import ExpressionError, TriggerIndex, check_expression
from inngest_dsl.devserver.core.protocol import canonical
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import AppRecord, FunctionRecord
from inngest_dsl.spec import _cron, _durations, _limits
from inngest_dsl.spec._options import FunctionOptions

__all__ = [
    "DEFAULT_RETRIES",
    "CancelSpec",
    "FunctionInfo",
    "Registration",
    "RegistrationError",
    "Registry",
    "validate_registration",
]

log = logging.getLogger("inngest_dsl.devserver")

DEFAULT_RETRIES = 4
"""Retries when `retries.attempts` is omitted (5 attempts in all)."""


class RegistrationError(ValueError):
    """A registration the dev server refuses; the message names the function and field."""


@attrs.frozen
class CancelSpec:
    event: str
    expression: str | None
    timeout: str | None


@attrs.frozen
class FunctionInfo:
    """What the executor needs to know of a registered function."""

    id: str
    name: str
    url: str
    uuid: str
    max_attempts: int
    cancel: tuple[CancelSpec, ...]
    config: Mapping[str, Any]
    flow: FlowControl = NO_FLOW


@attrs.frozen
class Registration:
    """A validated `/fn/register` body."""

    url: str
    app_name: str
    sdk: str
    framework: str
    functions: tuple[Mapping[str, Any], ...]
    checksum: str


def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _problem_in_trigger(trigger: Any, where: str, seen: set[str]) -> str | None:
    if not isinstance(trigger, Mapping):
        return f"{where}: must be an object with 'event' or 'cron'"
    event, cron = trigger.get("event"), trigger.get("cron")
    if bool(event) == bool(cron):
        return f"{where}: needs exactly one of 'event' or 'cron'"
    # One schedule once, whatever its jitter (as Inngest checks it).
    key = canonical({"cron": cron} if cron else dict(trigger))
    if key in seen:
        return f"{where}: duplicate trigger"
    seen.add(key)
    if event:
        if not isinstance(event, str) or len(event) > 512:
            return f"{where}.event: must be a string of at most 512 characters"
        expression = trigger.get("expression")
        if expression:
            if not isinstance(expression, str):
                return f"{where}.expression: must be a string"
            try:
                check_expression(expression)
            except ExpressionError as exc:
                return f"{where}.expression: {exc}"
        return None
    if not isinstance(cron, str):
        return f"{where}.cron: must be a string"
    problem = _cron.validate_cron(cron)
    if problem:
        return f"{where}.cron: {problem}"
    jitter = trigger.get("jitter")
    if jitter is None:
        return None
    try:
        problem = _limits.CRON_JITTER.problem(_durations.parse_duration(jitter))
    except (TypeError, ValueError) as exc:
        return f"{where}.jitter: {exc}"
    return f"{where}.jitter: {problem}, got {jitter!r}" if problem else None


def _problem_in_steps(steps: Any) -> str | None:
    if not isinstance(steps, Mapping) or len(steps) != 1:
        return "steps: must hold exactly one step entry"
    step = next(iter(steps.values()))
    if not isinstance(step, Mapping):
        return "steps: the step entry must be an object"
    if not step.get("name") and not step.get("id"):
        return "steps.step.name: must not be empty"
    runtime = step.get("runtime")
    if not isinstance(runtime, Mapping) or not _http_url(runtime.get("url")):
        return "steps.step.runtime.url: must be an http(s) URL"
    if runtime.get("type", "http") != "http":
        return f"steps.step.runtime.type: only 'http' is supported, got {runtime.get('type')!r}"
    retries = step.get("retries")
    if retries is not None:
        attempts = retries.get("attempts") if isinstance(retries, Mapping) else None
        if attempts is not None and (
            not isinstance(attempts, int)
            or isinstance(attempts, bool)
            or not 0 <= attempts <= _limits.MAX_RETRIES
        ):
            most = _limits.MAX_RETRIES
            return f"steps.step.retries.attempts: must be an integer from 0 to {most}"
    return None


def _problem_in_function(config: Any, app_name: str) -> tuple[str, str | None]:
    """`(label, problem or None)` for one FunctionConfig."""
    if not isinstance(config, Mapping):
        return "?", "must be a JSON object"
    fid = config.get("id")
    label = fid if isinstance(fid, str) and fid else "?"
    if not isinstance(fid, str) or not fid:
        return label, "id: required"
    if app_name and not fid.startswith(f"{app_name}-"):
        return (
            label,
            f"id: must be the composite '<app id>-<function id>', i.e. start with '{app_name}-'",
        )
    if not isinstance(config.get("name"), str) or not config["name"]:
        return label, "name: must not be empty"
    triggers = config.get("triggers") or []
    if not isinstance(triggers, Sequence) or len(triggers) > _limits.MAX_TRIGGERS:
        return label, f"triggers: must be a list of at most {_limits.MAX_TRIGGERS} triggers"
    seen: set[str] = set()
    for index, trigger in enumerate(triggers):
        problem = _problem_in_trigger(trigger, f"triggers[{index}]", seen)
        if problem:
            return label, problem
    problem = _problem_in_steps(config.get("steps"))
    if problem is None:
        try:
            parse_options(config)
        except FlowConfigError as exc:
            problem = str(exc)
    return label, problem


def validate_registration(body: Any) -> Registration:
    """Check a `/fn/register` body; raises `RegistrationError` naming the function and field."""
    if not isinstance(body, Mapping):
        raise RegistrationError("the body must be a JSON object")
    url = body.get("url")
    if not _http_url(url):
        raise RegistrationError("url: must be the app's http(s) serve URL")
    lowered = {str(k).lower(): v for k, v in body.items()}
    app_name = lowered.get("appname") or ""
    if not isinstance(app_name, str):
        raise RegistrationError("appName: must be a string")
    functions = body.get("functions")
    if functions is None:
        functions = []
    if not isinstance(functions, list):
        raise RegistrationError("functions: must be a list")
    ids: set[str] = set()
    for config in functions:
        label, problem = _problem_in_function(config, app_name)
        if problem:
            raise RegistrationError(f"function {label!r}: {problem}")
        if label in ids:
            raise RegistrationError(f"function {label!r}: id: duplicated in this app")
        ids.add(label)
    checksum = hashlib.sha256(
        canonical({"url": url, "app": app_name, "functions": functions}).encode()
    ).hexdigest()
    return Registration(
        url=str(url),
        app_name=app_name,
        sdk=str(body.get("sdk") or ""),
        framework=str(body.get("framework") or ""),
        functions=tuple(functions),
        checksum=checksum,
    )


def _cancel_timeout(value: object) -> str | None:
    """A cancellation's timeout as `deadline_from` reads it: a duration, or an instant as sent."""
    if isinstance(value, datetime.timedelta):
        return _durations.format_duration(value)
    return None if value is None else str(value)


def _info(record: FunctionRecord) -> FunctionInfo:
    config = record.config
    step = next(iter(config["steps"].values()))
    retries = (step.get("retries") or {}).get("attempts")
    try:
        options = parse_options(config)
    except FlowConfigError as exc:  # stored by a version that did not check it
        log.warning("function %s: options ignored: %s", record.id, exc)
        options = FunctionOptions()
    cancels = tuple(
        CancelSpec(c.event, c.if_, _cancel_timeout(c.timeout)) for c in options.cancel_on
    )
    flow = flow_of(options)
    return FunctionInfo(
        id=record.id,
        name=record.name,
        url=record.url,
        uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"inngest-dsl:{record.id}")),
        max_attempts=(DEFAULT_RETRIES if retries is None else int(retries)) + 1,
        cancel=cancels,
        config=config,
        flow=flow,
    )


def _synced(registration: Registration, modified: bool) -> str:
    """The log line of a sync: which app, at which URL, with which functions."""
    ids = [str(config["id"]) for config in registration.functions]
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    functions = f"{len(ids)} function" + ("" if len(ids) == 1 else "s")
    listed = f" ({shown})" if ids else ""
    unchanged = "" if modified else ", unchanged"
    name = registration.app_name or "with no app id"
    return f"synced app {name} at {registration.url}: {functions}{listed}{unchanged}"


class Registry:
    """The registered functions, loaded from the store and rebuilt after every sync."""

    def __init__(self, store: Store, *, on_change: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._announced: set[str] = set()  # app URLs whose sync was logged since the start
        self.functions: dict[str, FunctionInfo] = {}
        self.triggers = TriggerIndex(())
        # Called after a sync changed the functions (the cron scheduler re-reads them).
        self._on_change = on_change
        self.reload()

    def reload(self) -> None:
        records = self._store.list_functions()
        self.functions = {r.id: _info(r) for r in records}
        self.triggers = TriggerIndex((r.id, r.config) for r in records)

    def get(self, function_id: str) -> FunctionInfo | None:
        return self.functions.get(function_id)

    def remove_app(self, url: str) -> bool:
        """Forget an app and its functions (runs already started keep their records)."""
        with self._store.transaction():
            removed = self._store.delete_app(url)
        if removed:
            self.reload()
            self._on_change()
        return removed

    def register(self, registration: Registration, now: float) -> bool:
        """Store an app's functions; True if anything changed since its last sync."""
        previous = self._store.get_app(registration.url)
        modified = previous is None or previous.checksum != registration.checksum
        app = AppRecord(
            url=registration.url,
            name=registration.app_name,
            sdk=registration.sdk,
            framework=registration.framework,
            checksum=registration.checksum,
            synced_at=now,
            error=None,
        )
        rows = []
        for config in registration.functions:
            step = next(iter(config["steps"].values()))
            rows.append((config["id"], config["name"], step["runtime"]["url"], json.dumps(config)))
        with self._store.transaction():
            self._store.save_app(app, rows)
        if modified or registration.url not in self._announced:
            self._announced.add(registration.url)
            log.info("%s", _synced(registration, modified))
        if modified:
            self.reload()
            self._on_change()
        return modified
