"""The walk: run one call of a function and decide the response, with no I/O of its own.

Resume, don't replay: the op list is declared, so a call walks it once, folds memoised results
into `ctx.data` without calling their bodies, re-runs `run` blocks, and stops at the first
unfinished op. The per-spec work (hashing step ids, classifying bodies, grouping parallel
blocks) happens once, in `plan_for`. The only I/O is what bodies do, and a `send_event`
block's send through the serving client.
"""

from __future__ import annotations

from inngest_dsl.engine._call import Call, call_body, not_found
from inngest_dsl.engine._call_state import ABSENT, StepObserver
from inngest_dsl.engine._context import Context
from inngest_dsl.engine._fold import RunData, fold, fold_memo, merge, store
from inngest_dsl.engine._outcomes import (
    WRAPPED_KEYS,
    EventSender,
    function_error,
    memoised_failure,
    unserialisable,
)
from inngest_dsl.engine._plan import GROUP, RUN, STEP, ExecutionPlan
from inngest_dsl.engine._step_runner import Stop
from inngest_dsl.spec._function import RunOp
from inngest_dsl.wire._calls import CallRequest
from inngest_dsl.wire._json import check_json
from inngest_dsl.wire._responses import CallResult

__all__ = ["execute"]


def _context(plan: ExecutionPlan, request: CallRequest, app_id: str) -> Context:
    ctx = request.ctx
    max_attempts = plan.spec.max_attempts if ctx.max_attempts is None else ctx.max_attempts
    return Context(
        event=request.event,
        events=request.events,
        data=RunData(),
        run_id=ctx.run_id,
        attempt=ctx.attempt,
        max_attempts=max_attempts,
        function_id=plan.spec.composite_id(app_id) if app_id else plan.spec.id,
        request_id=ctx.request_id,
        job_id=ctx.job_id,
    )


async def execute(
    plan: ExecutionPlan,
    request: CallRequest,
    *,
    target: str | None = None,
    app_id: str = "",
    client: EventSender | None = None,
    observer: StepObserver | None = None,
) -> CallResult:
    """Run one call request; `target` is the `stepId` query value (`None`/"step" = discovery).

    `client` is the serving client: `send_event` blocks send through it, and its app id
    names invoked functions (unless `app_id` is given). `observer` watches `ctx.step` calls
    (the testing kit). Never raises for anything user code or the request does: every
    outcome is a `CallResult`.
    """
    if target == "step":
        target = None
    elif target is not None and target in request.steps:
        # A repeated call for a step that already finished: nothing to do. Carrying on as a
        # discovery would report its still-running siblings (a parallel group) a second time.
        return CallResult(206, [])
    if client is not None and not app_id:
        app_id = client.app_id
    ctx = _context(plan, request, app_id)
    # Made on demand: a call that only folds memoised results needs none of it.
    call: Call | None = None
    data = ctx.writable_data()
    memo_get = request.steps.get
    # Bound once: the walk merges once per memoised step (`RunData` refuses `data.update`).
    merge_data = merge.__get__(data)
    for kind, hashed, user_id, entry in plan.rows:
        if kind == RUN:
            if call is None:
                call = Call(plan, request, ctx, target, app_id, client, observer)
            runner = call.runner
            # A run block may add steps at run time; they answer to the request's target.
            runner.enter(user_id, target, "")
            op = entry.op
            call.log_gate.run_block(entry, isinstance(op, RunOp) and op.log_every_request)
            try:
                result = await call_body(entry, call.instance(), ctx)
            except Stop as stop:
                return stop.result
            except Exception as exc:
                return function_error(exc)
            finally:
                runner.leave()
                call.log_gate.run_block(None)
            if runner.stopped is not None:
                return runner.stopped
            if result is not None:
                try:
                    check_json(result)
                except (TypeError, ValueError) as exc:
                    return unserialisable(entry.what, exc)
                fold(data, user_id, result)
            continue
        if kind == GROUP:
            if call is None:
                call = Call(plan, request, ctx, target, app_id, client, observer)
            outcome = await call.group(entry)
            if outcome is not None:
                return outcome
            continue
        value = memo_get(hashed, ABSENT)
        if value is ABSENT:
            if call is None:
                call = Call(plan, request, ctx, target, app_id, client, observer)
            return await call.pending(entry)
        if type(value) is dict:
            if len(value) == 1 and "data" in value:  # the usual wrapping, tested first
                value = value["data"]
            elif value.keys() <= WRAPPED_KEYS:
                if value.get("error") is not None:
                    return memoised_failure(user_id, value["error"])
                value = value.get("data")
        if kind == STEP:
            # The hot path: memo values are plain JSON, so test exact types before the ABC.
            if type(value) is dict:
                merge_data(value)
            else:
                store(data, user_id, value)  # None too: a step that returned nothing is null
        else:
            fold_memo(data, entry, value)
    if target is not None:  # a target no block reached
        return not_found(plan, target)
    return CallResult(200, data)
