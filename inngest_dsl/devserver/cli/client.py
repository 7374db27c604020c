"""Requests to a running dev server (`request`), and `inngest-dsl send`.

With `--signing-key` or `INNGEST_SIGNING_KEY`, requests carry the key's bearer (its hash, as
the SDKs send it), which a dev server started with that key requires. Whatever answers, a
problem is one line naming the URL: an answer that is not the dev server's JSON (another
program on that port), a refusal with the dev server's reason, and for a 401 which key to set.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from inngest_dsl.devserver.cli.output import answer
from inngest_dsl.devserver.cli.target import server_url
from inngest_dsl.devserver.cli.usage import UsageError
from inngest_dsl.wire._signing import bearer_token

__all__ = ["data_flag", "request", "send_event"]

SIGNING_KEY_HINT = (
    "this dev server needs its signing key: set INNGEST_SIGNING_KEY or pass --signing-key"
)
WRONG_KEY_HINT = (
    "the signing key given (--signing-key or INNGEST_SIGNING_KEY) is not this dev server's"
)
EVENT_KEY_HINT = (
    "this dev server needs its event key: set INNGEST_EVENT_KEY or pass --event-key "
    "(or give its signing key: INNGEST_SIGNING_KEY or --signing-key)"
)


def _signing_key(flag: str | None) -> str | None:
    return flag or os.environ.get("INNGEST_SIGNING_KEY") or None


def _headers(signing_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if signing_key:
        headers["Authorization"] = bearer_token(signing_key)
    return headers


def _decoded(raw: bytes) -> Any:
    """The JSON of an answer, None if it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _not_the_dev_server(url: str, status: int, reason: str) -> UsageError:
    return UsageError(
        f"{url} answered HTTP {status} {reason}, not with the dev server's JSON: "
        "is the dev server on that port? (see --url)"
    )


def _refusal(url: str, status: int, reason: str, raw: bytes, hint: str) -> UsageError:
    body = _decoded(raw)
    message = body.get("error") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        return _not_the_dev_server(url, status, reason)
    if status == 401:
        message = hint  # what to do, rather than how HTTP clients send a key
    return UsageError(f"the dev server refused the request (HTTP {status}): {message}")


def request(
    url: str,
    body: Any = None,
    method: str | None = None,
    *,
    signing_key: str | None = None,
    hint: str = SIGNING_KEY_HINT,
) -> Any:
    """Send `body` (JSON) to `url`; the JSON answer, or a `UsageError` saying what went wrong.

    `signing_key` is the `--signing-key` flag (else `INNGEST_SIGNING_KEY` is used); `hint` says
    which key to set when the dev server answers 401.
    """
    key = _signing_key(signing_key)
    if key and hint == SIGNING_KEY_HINT:
        hint = WRONG_KEY_HINT
    data = None if body is None else json.dumps(body).encode()
    prepared = urllib.request.Request(
        url,
        data=data,
        headers=_headers(key),
        method=method or ("POST" if data else "GET"),
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            status, reason, raw = response.status, response.reason, response.read()
    except urllib.error.HTTPError as exc:
        raise _refusal(url, exc.code, exc.reason, exc.read(), hint) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"cannot reach the dev server at {url}: {reason}") from None
    answer = _decoded(raw)
    if not isinstance(answer, dict):
        raise _not_the_dev_server(url, status, reason)
    return answer


def data_flag(text: str) -> dict[str, Any]:
    """The `--data` flag's JSON object, or a `UsageError` saying what is wrong with it."""
    from inngest_dsl.devserver.core.payload import PayloadError, json_object

    try:
        return json_object(text, "--data")
    except PayloadError as exc:
        raise UsageError(str(exc)) from None


def send_event(args: argparse.Namespace) -> None:
    """Send one event; print its id (or with `--json` the event API's answer)."""
    data = data_flag(args.data)
    event: dict[str, Any] = {"name": args.name, "data": data}
    if args.id:
        event["id"] = args.id
    event_key = args.event_key or os.environ.get("INNGEST_EVENT_KEY") or "dev"
    key = urllib.parse.quote(event_key, safe="")
    reply = request(
        f"{server_url(args.url)}/e/{key}",
        [event],
        signing_key=args.signing_key,
        hint=EVENT_KEY_HINT,
    )
    answer(args, reply, lambda r: print(r["ids"][0]))
