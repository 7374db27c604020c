"""Serving without a web framework: what `serve()` mounts, and one call's answer.

The aiohttp handler and the testing kit's in-process transport both answer a call here, so a
function behaves the same whether Inngest reaches it over HTTP or a test calls it directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from inngest_dsl.client import Inngest
from inngest_dsl.engine._context import check_context_types
from inngest_dsl.engine._failure import failure_problem, is_failure_spec, with_failure_specs
from inngest_dsl.engine._middleware import run_call
from inngest_dsl.engine._plan import ExecutionPlan, plan_for
from inngest_dsl.errors import ConfigError
from inngest_dsl.serve._bodies import FRAMEWORK
from inngest_dsl.spec._function import FunctionSpec, spec_of
from inngest_dsl.wire._calls import CallRequest
from inngest_dsl.wire._json import dumps
from inngest_dsl.wire._responses import encode_result_body

__all__ = [
    "Answer",
    "ServedFunctions",
    "answer_call",
    "encode_body",
    "error_body",
    "functions_to_serve",
    "sdk_headers",
    "served_functions",
]

_log = logging.getLogger("inngest_dsl.serve")


@attrs.frozen
class ServedFunctions:
    """What one `serve()` call mounted: the client, the path and the functions by wire id.

    `plans` also holds each `@on_failure` handler's companion, under `<wire id>-failure`.
    """

    client: Inngest
    path: str
    specs: tuple[FunctionSpec, ...]
    plans: Mapping[str, ExecutionPlan]
    failure_ids: frozenset[str] = frozenset()


@attrs.frozen
class Answer:
    """A response before it is encoded: status, JSON-able body, extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = attrs.field(factory=dict)


def error_body(message: str, code: str) -> dict[str, str]:
    """The JSON body of an error answered by the SDK: `{"error": ..., "code": ...}`."""
    return {"error": message, "code": code}


def sdk_headers(client: Inngest, framework: str = FRAMEWORK) -> dict[str, str]:
    """The headers on every SDK response: content type, SDK, request version, framework."""
    headers = {
        "Content-Type": "application/json",
        "X-Inngest-SDK": client.sdk_header,
        "X-Inngest-Req-Version": "2",
        "X-Inngest-Framework": framework,
    }
    if client.env:
        headers["X-Inngest-Env"] = client.env
    return headers


def encode_body(status: int, body: Any) -> tuple[int, bytes]:
    """The JSON payload of a response; a 500 naming the problem if `body` cannot be JSON."""
    try:
        return status, encode_result_body(body)
    except (TypeError, ValueError) as exc:
        problem = f"the response is not JSON-serialisable: {exc}"
        return 500, dumps(error_body(problem, "internal"))


def functions_to_serve(
    functions: type | FunctionSpec | Iterable[type | FunctionSpec],
) -> list[type | FunctionSpec]:
    """What `serve()` was given, as a list: one function class (or spec) is served alone.

    `ConfigError` for nothing to serve, or for something that is neither a function nor a
    list of them.
    """
    if isinstance(functions, (type, FunctionSpec)):
        return [functions]
    if isinstance(functions, (str, bytes)) or not isinstance(functions, Iterable):
        raise ConfigError(
            "serve() takes the function classes to serve, as a list "
            f"(serve(app, client, [SignUpFlow])), got {type(functions).__name__} {functions!r}"
        )
    listed = list(functions)
    if not listed:
        raise ConfigError(
            "serve() was given no functions: list the function classes to serve, as in "
            "serve(app, client, [SignUpFlow]), or check that discover(...) finds them"
        )
    return listed


def served_functions(
    client: Inngest, functions: Iterable[type | FunctionSpec], path: str
) -> ServedFunctions:
    """Plans for `functions` (classes or specs) and their failure handlers, by wire id.

    Raises `ConfigError` when two functions share a wire id, `DefinitionError` for a block
    whose `ctx: Context[T]` names an event type its function is not triggered by.
    """
    specs = tuple(f if isinstance(f, FunctionSpec) else spec_of(f) for f in functions)
    plans: dict[str, ExecutionPlan] = {}
    for spec in with_failure_specs(specs, client.app_id):
        wire_id = spec.composite_id(client.app_id)
        if wire_id in plans:
            raise ConfigError(
                f"two served functions have the id {wire_id!r}: "
                f"{plans[wire_id].spec.cls.__qualname__} and {spec.cls.__qualname__}"
            )
        plans[wire_id] = plan_for(spec)
        check_context_types(plans[wire_id])
    failure_ids = frozenset(
        wire_id for wire_id, plan in plans.items() if is_failure_spec(plan.spec)
    )
    return ServedFunctions(
        client=client, path=path, specs=specs, plans=plans, failure_ids=failure_ids
    )


async def answer_call(
    served: ServedFunctions,
    call: CallRequest,
    fn_id: str | None,
    step_id: str | None,
    *,
    plans: Mapping[str, ExecutionPlan] | None = None,
    observer: Any = None,
) -> Answer:
    """Run one call of `fn_id` (targeting `step_id`, if given) and say what to answer.

    `plans` replaces the served plans (the testing kit's instrumented ones); `observer` sees
    the steps a body adds at run time.
    """
    if not fn_id:
        problem = "missing query parameter fnId (the function to call)"
        return Answer(400, error_body(problem, "query_param_missing"))
    plan = (plans or served.plans).get(fn_id)
    if plan is None:
        known = ", ".join(sorted(served.plans)) or "none"
        problem = f"no function {fn_id!r} is served here (served: {known})"
        return Answer(500, error_body(problem, "function_not_found"))
    if fn_id in served.failure_ids:
        invalid = failure_problem(call.event)
        if invalid is not None:
            # Only Inngest sends these events; a retry would get the same one.
            return Answer(
                400,
                error_body(invalid, "failure_event_invalid"),
                {"X-Inngest-No-Retry": "true"},
            )
    try:
        result = await run_call(
            plan,
            call,
            middleware=served.client.middleware + plan.spec.middleware,
            target=step_id,
            app_id=served.client.app_id,
            client=served.client,
            observer=observer,
        )
    except Exception:  # the engine promises results; this is a bug, not user code
        _log.exception("inngest_dsl: internal error running %s", fn_id)
        return Answer(500, error_body("internal error in inngest_dsl", "internal"))
    return Answer(result.status, result.body, result.headers())
