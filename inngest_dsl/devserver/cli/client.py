"""`inngest-dsl send` and `inngest-dsl runs`: the dev server's event and run APIs, by URL.

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
from collections.abc import Sequence
from typing import Any

from inngest_dsl.devserver.cli.usage import UsageError
from inngest_dsl.wire._signing import bearer_token

__all__ = ["list_runs", "send_event"]


def _headers(args: argparse.Namespace) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    key = getattr(args, "signing_key", None) or os.environ.get("INNGEST_SIGNING_KEY")
    if key:
        headers["Authorization"] = bearer_token(key)
    return headers


def _request(args: argparse.Namespace, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers=_headers(args),
        method="POST" if data else "GET",
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
    reply = _request(args, f"{args.url.rstrip('/')}/e/{key}", [event])
    print(reply["ids"][0])


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def list_runs(args: argparse.Namespace) -> None:
    """Print the latest runs as a table."""
    query = {"limit": str(args.limit)}
    if args.status:
        query["status"] = args.status
    reply = _request(args, f"{args.url.rstrip('/')}/v1/runs?{urllib.parse.urlencode(query)}")
    rows = [["RUN ID", "FUNCTION", "STATUS", "STARTED", "DURATION"]]
    for run in reply["data"]:
        duration = run.get("duration_ms")
        rows.append(
            [
                run["run_id"],
                run["function_id"],
                run["status"],
                (run.get("started_at") or run.get("queued_at") or "")[:23],
                "" if duration is None else f"{duration / 1000:.3f}s",
            ]
        )
    if len(rows) == 1:
        print("no runs")
        return
    print(_table(rows))
