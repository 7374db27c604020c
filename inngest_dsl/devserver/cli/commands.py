"""The commands that act on a running dev server through its JSON API: `runs`, `run`,
`cancel`, `rerun`, `invoke`, `bulk-cancel`, `events`, `functions` and `apps`.

Each prints a short table or line, or with `--json` the API's answer as it came; every
action is the dev server's own (`core.actions`), reached over HTTP.
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from inngest_dsl.devserver.cli.client import _request
from inngest_dsl.devserver.cli.target import server_url
from inngest_dsl.devserver.cli.usage import UsageError

__all__ = ["COMMANDS"]


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _key(args: argparse.Namespace) -> str | None:
    return getattr(args, "signing_key", None)  # unset when a nested action was not given it


def _get(args: argparse.Namespace, path: str, query: dict[str, str] | None = None) -> Any:
    params = {k: v for k, v in (query or {}).items() if v}
    suffix = f"?{urllib.parse.urlencode(params)}" if params else ""
    return _request(f"{server_url(args.url)}{path}{suffix}", signing_key=_key(args))


def _post(args: argparse.Namespace, path: str, body: Any) -> Any:
    return _request(f"{server_url(args.url)}{path}", body, "POST", signing_key=_key(args))


def _quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _json_object(text: str, flag: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag} must be a JSON object, e.g. '{{\"user_id\": 1}}'")
    return value


def _duration(run: dict[str, Any]) -> str:
    duration = run.get("duration_ms")
    return "" if duration is None else f"{duration / 1000:.3f}s"


def _more(reply: dict[str, Any]) -> None:
    if reply.get("cursor"):
        print(f"(more: --cursor {reply['cursor']})")


# -- runs ---------------------------------------------------------------------------------


def list_runs(args: argparse.Namespace) -> None:
    """Runs newest first, as a table."""
    reply = _get(
        args,
        "/v1/runs",
        {
            "limit": str(args.limit),
            "status": ",".join(args.status or []),
            "function_id": args.function or "",
            "event_id": args.event or "",
            "after": args.after or "",
            "before": args.before or "",
            "cursor": args.cursor or "",
        },
    )
    if args.json:
        _print_json(reply)
        return
    rows = [["RUN ID", "FUNCTION", "STATUS", "STARTED", "DURATION"]]
    for run in reply["data"]:
        started = (run.get("started_at") or run.get("queued_at") or "")[:23]
        rows.append([run["run_id"], run["function_id"], run["status"], started, _duration(run)])
    if len(rows) == 1:
        print("no runs")
        return
    print(_table(rows))
    _more(reply)


def _print_run(run: dict[str, Any]) -> None:
    print(f"run {run['run_id']} of {run['function_id']}: {run['status']}")
    for label in ("reason", "rerun_of", "queued_at", "started_at", "ended_at"):
        if run.get(label):
            print(f"  {label.replace('_', ' ')}: {run[label]}")
    if run.get("duration_ms") is not None:
        print(f"  duration: {_duration(run)}")
    if run.get("error") is not None:
        print(f"  error: {json.dumps(run['error'])}")
    elif run.get("output") is not None:
        print(f"  output: {json.dumps(run['output'])}")
    steps = run.get("steps") or []
    if steps:
        rows = [["STEP", "ID", "KIND", "STATUS", "ATTEMPTS"]]
        rows += [
            [s["name"], s["id"], s["kind"], s["status"], str(s.get("attempts", ""))] for s in steps
        ]
        print(_table(rows))


def show_run(args: argparse.Namespace) -> None:
    reply = _get(args, f"/v1/runs/{_quoted(args.run_id)}")
    if args.json:
        _print_json(reply)
    else:
        _print_run(reply["data"])


def cancel_run(args: argparse.Namespace) -> None:
    reply = _post(args, f"/v1/runs/{_quoted(args.run_id)}/cancel", {})
    if args.json:
        _print_json(reply)
    else:
        print(f"run {reply['data']['run_id']}: {reply['data']['status']}")


def rerun(args: argparse.Namespace) -> None:
    body = {} if args.from_step is None else {"from_step": args.from_step}
    reply = _post(args, f"/v1/runs/{_quoted(args.run_id)}/rerun", body)
    if args.json:
        _print_json(reply)
    else:
        print(reply["data"]["run_id"])


def invoke(args: argparse.Namespace) -> None:
    data = _json_object(args.data, "--data")
    reply = _post(args, f"/v1/functions/{_quoted(args.function)}/invoke", {"data": data})
    if args.json:
        _print_json(reply)
    else:
        print(reply["data"]["run_id"])


def bulk_cancel(args: argparse.Namespace) -> None:
    body: dict[str, Any] = {
        "function_id": args.function,
        "started_after": args.after,
        "started_before": args.before,
    }
    if args.expression:
        body["if"] = args.expression
    reply = _post(args, "/v1/cancellations", body)
    if args.json:
        _print_json(reply)
    else:
        print(f"cancelled {reply['cancelled']} runs of {reply['function_id']}")


# -- events, functions, apps --------------------------------------------------------------


def list_events(args: argparse.Namespace) -> None:
    reply = _get(
        args,
        "/v1/events",
        {
            "limit": str(args.limit),
            "name": args.name or "",
            "internal": "true" if args.internal else "",
            "after": args.after or "",
            "before": args.before or "",
            "cursor": args.cursor or "",
        },
    )
    if args.json:
        _print_json(reply)
        return
    rows = [["EVENT ID", "NAME", "RECEIVED"]]
    rows += [[e["internal_id"], e["name"], (e["received_at"] or "")[:23]] for e in reply["data"]]
    if len(rows) == 1:
        print("no events")
        return
    print(_table(rows))
    _more(reply)


def list_functions(args: argparse.Namespace) -> None:
    reply = _get(args, "/v1/functions")
    if args.json:
        _print_json(reply)
        return
    rows = [["FUNCTION", "NAME", "TRIGGERS", "APP"]]
    for function in reply["data"]:
        triggers = ", ".join(
            t.get("event") or f"cron {t.get('cron')}" for t in function["triggers"]
        )
        rows.append([function["id"], function["name"], triggers, function["app_url"]])
    print("no functions" if len(rows) == 1 else _table(rows))


def apps(args: argparse.Namespace) -> None:
    action = args.apps_action
    if action == "add":
        reply = _post(args, "/v1/apps", {"url": args.app_url})
    elif action == "resync":
        reply = _post(args, "/v1/apps/resync", {"url": args.app_url} if args.app_url else None)
    elif action == "remove":
        url = f"{server_url(args.url)}/v1/apps?{urllib.parse.urlencode({'url': args.app_url})}"
        reply = _request(url, None, "DELETE", signing_key=_key(args))
    else:
        reply = _get(args, "/v1/apps")
    if args.json:
        _print_json(reply)
    elif action == "remove":
        print(f"removed {args.app_url}")
    elif action == "add" or (action == "resync" and args.app_url):
        app = reply["data"]
        print(f"synced {app['url']} ({app['name'] or 'no name'})")
    elif action == "resync":
        for result in reply["data"]:
            print(f"{result['url']}: {'synced' if result['ok'] else result['error']}")
    else:
        _print_apps(reply["data"])


def _print_apps(listed: list[dict[str, Any]]) -> None:
    rows = [["APP URL", "NAME", "SYNCED", "ERROR"]]
    rows += [
        [a["url"], a["name"], (a["synced_at"] or "never")[:23], a["error"] or ""] for a in listed
    ]
    print("no apps" if len(rows) == 1 else _table(rows))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "runs": list_runs,
    "run": show_run,
    "cancel": cancel_run,
    "rerun": rerun,
    "invoke": invoke,
    "bulk-cancel": bulk_cancel,
    "events": list_events,
    "functions": list_functions,
    "apps": apps,
}
"""Each client command's implementation, by name."""
