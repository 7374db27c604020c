"""The UI's action buttons: cancel a run, rerun it (from a step), invoke a function, cancel
many runs of a function. Each calls the dev server's one implementation of the action
(`core.actions`) and redirects to what it made, or says why it was refused."""

from __future__ import annotations

import urllib.parse

from aiohttp import web

from inngest_dsl.devserver.core import actions
from inngest_dsl.devserver.core.payload import PayloadError, json_object
from inngest_dsl.devserver.http.keys import ENGINE
from inngest_dsl.devserver.http.responses import read_form
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.ui.confirm import ask, confirmed
from inngest_dsl.devserver.ui.forms import cross_site, refused
from inngest_dsl.devserver.ui.search_form import instant

__all__ = ["bulk_cancel", "cancel", "invoke", "rerun"]


def _run_url(run_id: str, done: str) -> str:
    return f"/runs/{urllib.parse.quote(run_id)}" + (f"?done={done}" if done else "")


def _function_url(function_id: str) -> str:
    return f"/functions/{urllib.parse.quote(function_id)}"


async def _form(request: web.Request) -> dict[str, str] | None:
    if cross_site(request):
        return None
    return {k: str(v) for k, v in (await read_form(request)).items()}


def _cross_site_refused(request: web.Request) -> web.Response:
    return refused(request, "Cross-site form post refused.", 403, "/runs")


async def cancel(request: web.Request) -> web.Response:
    form = await _form(request)
    if form is None:
        return _cross_site_refused(request)
    run_id = request.match_info["run_id"]
    engine = request.app[ENGINE]
    before = engine.store.get_run(run_id)
    if before is not None and before.status not in RunStatus.FINAL and not confirmed(form):
        return ask(
            request,
            question=f"Cancel run {run_id}?",
            consequence="It stops where it is and cannot be resumed; a rerun starts it anew.",
            form=form,
            yes="Yes, cancel the run",
            back=_run_url(run_id, ""),
        )
    try:
        run = actions.cancel_run(engine, run_id, reason=actions.CANCELLED_FROM_UI)
    except actions.ActionError as exc:
        return refused(request, str(exc), exc.status, "/runs")
    ended = before is not None and before.status in RunStatus.FINAL
    raise web.HTTPSeeOther(_run_url(run.run_id, "not-cancelled" if ended else "cancelled"))


async def rerun(request: web.Request) -> web.Response:
    form = await _form(request)
    if form is None:
        return _cross_site_refused(request)
    run_id = request.match_info["run_id"]
    from_step = form.get("from_step") or None
    try:
        run = actions.rerun(request.app[ENGINE], run_id, from_step=from_step)
    except actions.ActionError as exc:
        return refused(request, str(exc), exc.status, _run_url(run_id, ""))
    raise web.HTTPSeeOther(_run_url(run.run_id, "rerun-from" if from_step else "rerun"))


async def invoke(request: web.Request) -> web.Response:
    form = await _form(request)
    if form is None:
        return _cross_site_refused(request)
    function_id = request.match_info["function_id"]
    back = _function_url(function_id)
    try:
        data = json_object(str(form.get("data", "")), "Data")
    except PayloadError as exc:
        return refused(request, f"{exc}.", 400, back)
    try:
        invocation = actions.invoke(request.app[ENGINE], function_id, data)
    except actions.ActionError as exc:
        return refused(request, str(exc), exc.status, back)
    raise web.HTTPSeeOther(_run_url(invocation.run.run_id, "invoked"))


async def bulk_cancel(request: web.Request) -> web.Response:
    form = await _form(request)
    if form is None:
        return _cross_site_refused(request)
    function_id = request.match_info["function_id"]
    back = _function_url(function_id)
    problems: list[str] = []
    since = instant(form.get("from", ""), "From", problems)
    until = instant(form.get("to", ""), "To", problems)
    if since is None or until is None or problems:
        problems = problems or ["Give both ends of the time range."]
        return refused(request, " ".join(problems), 400, back)
    expression = form.get("if", "").strip() or None
    try:
        cancellation = actions.cancel_runs(
            request.app[ENGINE],
            function_id,
            started_after=since,
            started_before=until,
            expression=expression,
            reason=actions.CANCELLED_FROM_UI,
            dry_run=not confirmed(form),
        )
    except actions.ActionError as exc:
        return refused(request, str(exc), exc.status, back)
    if not confirmed(form):
        return _ask_bulk(request, function_id, form, cancellation.run_ids)
    query = urllib.parse.urlencode(
        {"function": function_id, "status": RunStatus.CANCELLED, "done": "bulk-cancelled"}
    )
    raise web.HTTPSeeOther(f"/runs?{query}")


def _ask_bulk(
    request: web.Request, function_id: str, form: dict[str, str], matching: tuple[str, ...]
) -> web.Response:
    count = len(matching)
    runs = "1 run" if count == 1 else f"{count} runs"
    window = f"queued from {form.get('from', '')} to {form.get('to', '')} UTC"
    condition = f" where {form['if'].strip()}" if form.get("if", "").strip() else ""
    return ask(
        request,
        question=f"Cancel {runs} of {function_id}?",
        consequence=(
            f"The queued and running runs {window}{condition}: {runs} now. "
            "Cancelled runs cannot be resumed."
        ),
        form=form,
        yes=f"Yes, cancel {runs}",
        back=_function_url(function_id),
        items=[(run_id, _run_url(run_id, "")) for run_id in matching],
    )
