"""Requests to a running dev server (`_request`), and `inngest-dsl send`.

With `--signing-key` or `INNGEST_SIGNING_KEY`, requests carry the key's bearer (its hash, as
the SDKs send it), which a dev server started with that key requires.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from inngest_dsl.devserver.cli.target import server_url
from inngest_dsl.devserver.cli.usage import UsageError
from inngest_dsl.wire._signing import bearer_token

__all__ = ["send_event"]


def _headers(signing_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    key = signing_key or os.environ.get("INNGEST_SIGNING_KEY")
    if key:
        headers["Authorization"] = bearer_token(key)
    return headers


def _request(
    url: str, body: Any = None, method: str | None = None, *, signing_key: str | None = None
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers=_headers(signing_key),
        method=method or ("POST" if data else "GET"),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error")
        except ValueError:
            message = exc.reason
        raise UsageError(
            f"the dev server refused the request (HTTP {exc.code}): {message}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"cannot reach the dev server at {url}: {reason}") from None


def send_event(args: argparse.Namespace) -> None:
    """Send one event; print its id."""
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        raise UsageError(f"--data is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError("--data must be a JSON object, e.g. '{\"user_id\": 1}'")
    event: dict[str, Any] = {"name": args.name, "data": data}
    if args.id:
        event["id"] = args.id
    key = urllib.parse.quote(args.event_key, safe="")
    reply = _request(f"{server_url(args.url)}/e/{key}", [event], signing_key=args.signing_key)
    print(reply["ids"][0])
