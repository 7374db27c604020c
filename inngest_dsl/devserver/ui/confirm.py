"""Asking before a destructive action (cancel a run, cancel many, remove an app).

A button that destroys carries `data-confirm`: with JavaScript (`live.js`) the browser asks
in a dialog and posts `confirm=yes` once accepted. Without it the post arrives unconfirmed, and
the action answers with a page asking the same question, whose button posts it again
confirmed: a plain form never destroys on its first click.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from inngest_dsl.devserver.ui.markup import render

__all__ = ["CONFIRM_FIELD", "ask", "confirmed"]

CONFIRM_FIELD = "confirm"


def confirmed(form: Mapping[str, str]) -> bool:
    """Whether the post says the person agreed (the dialog, or the confirmation page)."""
    return form.get(CONFIRM_FIELD) == "yes"


def ask(
    request: web.Request,
    *,
    question: str,
    consequence: str,
    form: Mapping[str, str],
    yes: str,
    back: str,
    items: Sequence[tuple[str, str]] = (),
) -> web.Response:
    """The page asking `question` before the action the request posted: its button posts the
    same fields again, confirmed; `back` leaves everything as it is. `items` (label, link)
    list what the action would touch."""
    fields = {k: v for k, v in form.items() if k != CONFIRM_FIELD}
    context = {
        "question": question,
        "consequence": consequence,
        "action": request.path_qs,
        "fields": fields,
        "yes": yes,
        "back": back,
        "items": items,
    }
    return render(request, "confirm.html", context)
