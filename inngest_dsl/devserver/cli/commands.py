"""The commands that act on a running dev server through its JSON API: `runs`, `run`,
`cancel`, `rerun`, `invoke`, `bulk-cancel`, `events`, `functions` and `apps`.

Each prints a short table or line, or with `--json` the API's answer as it came (`output`);
every action is the dev server's own (`core.actions`), reached over HTTP.
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from inngest_dsl.devserver.cli.client import data_flag, request
from inngest_dsl.devserver.cli.output import answer, count, print_listing, table
from inngest_dsl.devserver.cli.target import server_url

__all__ = ["COMMANDS"]


def _key(args: argparse.Namespace) -> str | None:
    return getattr(args, "signing_key", None)  # unset when a nested action was not given it


def _get(args: argparse.Namespace, path: str, query: dict[str, str] | None = None) -> Any:
    params = {k: v for k, v in (query or {}).items() if v}
    suffix = f"?{urllib.parse.urlencode(params)}" if params else ""
    return request(f"{server_url(args.url)}{path}{suffix}", signing_key=_key(args))


def _post(args: argparse.Namespace, path: str, body: Any) -> Any:
    return request(f"{server_url(args.url)}{path}", body, "POST", signing_key=_key(args))


def _quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _page(args: argparse.Namespace) -> dict[str, str]:
    """The query of a listing's page: its size, time range and cursor."""
    return {
        "limit": str(args.limit),
        "after": args.after or "",
        "before": args.before or "",
        "cursor": args.cursor or "",
    }


def _duration(run: dict[str, Any]) -> str:
    duration = run.get("duration_ms")
    return "" if duration is None else f"{duration / 1000:.3f}s"


# -- runs ---------------------------------------------------------------------------------


def list_runs(args: argparse.Namespace) -> None:
    """Runs newest first, as a table."""
    query = {
        "status": ",".join(args.status or []),
        "function_id": args.function or "",
        "event_id": args.event or "",
        **_page(args),
    }
    answer(args, _get(args, "/v1/runs", query), _print_runs)


def _print_runs(reply: dict[str, Any]) -> None:
    rows = [
        [
            run["run_id"],
            run["function_id"],
            run["status"],
            run.get("started_at") or run.get("queued_at") or "",
            _duration(run),
        ]
        for run in reply["data"]
    ]
    header = ["RUN ID", "FUNCTION", "STATUS", "STARTED", "DURATION"]
    print_listing(header, rows, "run", reply.get("cursor"))


def _print_error(error: Any) -> None:
    """A run's error as the run page shows it: `Name: message`, then the app's own frames."""
    from inngest_dsl.devserver.ui.errors import readable_error

    readable = readable_error(error)
    print(
        f"  error: {readable.name}: {readable.message}"
        if readable.message
        else f"  error: {readable.name}"
    )
    for frame in readable.user_frames:
        print("    " + frame.replace("\n", "\n    "))


def _print_run(reply: dict[str, Any]) -> None:
    from inngest_dsl.devserver.store.records import KIND_LABELS

    run = reply["data"]
    print(f"run {run['run_id']} of {run['function_id']}: {run['status']}")
    if run.get("error") is not None:
        _print_error(run["error"])
    for label in ("reason", "rerun_of", "queued_at", "started_at", "ended_at"):
        if run.get(label):
            print(f"  {label.replace('_', ' ')}: {run[label]}")
    if run.get("duration_ms") is not None:
        print(f"  duration: {_duration(run)}")
    if run.get("error") is None and run.get("output") is not None:
        print(f"  output: {json.dumps(run['output'])}")
    steps = run.get("steps") or []
    if steps:
        rows = [["STEP", "ID", "KIND", "STATUS", "ATTEMPTS"]]
        rows += [
            [
                s["name"],
                s["id"],
                KIND_LABELS.get(s["kind"], s["kind"]),
                s["status"],
                str(s.get("attempts", "")) if s["kind"] == "Run" else "",  # as the UI shows
            ]
            for s in steps
        ]
        print(table(rows))


def show_run(args: argparse.Namespace) -> None:
    answer(args, _get(args, f"/v1/runs/{_quoted(args.run_id)}"), _print_run)


def cancel_run(args: argparse.Namespace) -> None:
    reply = _post(args, f"/v1/runs/{_quoted(args.run_id)}/cancel", {})
    answer(args, reply, lambda r: print(f"run {r['data']['run_id']}: {r['data']['status']}"))


def _print_run_id(reply: dict[str, Any]) -> None:
    print(reply["data"]["run_id"])


def rerun(args: argparse.Namespace) -> None:
    body = {} if args.from_step is None else {"from_step": args.from_step}
    answer(args, _post(args, f"/v1/runs/{_quoted(args.run_id)}/rerun", body), _print_run_id)


def invoke(args: argparse.Namespace) -> None:
    data = data_flag(args.data)
    reply = _post(args, f"/v1/functions/{_quoted(args.function)}/invoke", {"data": data})
    answer(args, reply, _print_run_id)


def bulk_cancel(args: argparse.Namespace) -> None:
    body: dict[str, Any] = {
        "function_id": args.function,
        "started_after": args.after,
        "started_before": args.before,
    }
    if args.expression:
        body["if"] = args.expression
    answer(
        args,
        _post(args, "/v1/cancellations", body),
        lambda r: print(f"cancelled {count(r['cancelled'], 'run')} of {r['function_id']}"),
    )


# -- events, functions, apps --------------------------------------------------------------


def list_events(args: argparse.Namespace) -> None:
    query = {"name": args.name or "", "internal": "true" if args.internal else "", **_page(args)}
    answer(args, _get(args, "/v1/events", query), _print_events)


def _print_events(reply: dict[str, Any]) -> None:
    rows = [[e["internal_id"], e["name"], e["received_at"] or ""] for e in reply["data"]]
    print_listing(["EVENT ID", "NAME", "RECEIVED"], rows, "event", reply.get("cursor"))


def list_functions(args: argparse.Namespace) -> None:
    answer(args, _get(args, "/v1/functions"), _print_functions)


def _print_functions(reply: dict[str, Any]) -> None:
    rows = []
    for function in reply["data"]:
        triggers = ", ".join(
            t.get("event") or f"cron {t.get('cron')}" for t in function["triggers"]
        )
        rows.append([function["id"], function["name"], triggers, function["app_url"]])
    print_listing(["FUNCTION", "NAME", "TRIGGERS", "APP"], rows, "function")


def apps(args: argparse.Namespace) -> None:
    action = args.apps_action
    show: Callable[[Any], None] = _print_apps
    if action == "add":
        reply = _post(args, "/v1/apps", {"url": args.app_url})
        show = _print_synced
    elif action == "resync":
        reply = _post(args, "/v1/apps/resync", {"url": args.app_url} if args.app_url else None)
        show = _print_synced if args.app_url else _print_resynced
    elif action == "remove":
        url = f"{server_url(args.url)}/v1/apps?{urllib.parse.urlencode({'url': args.app_url})}"
        reply = request(url, None, "DELETE", signing_key=_key(args))
        show = lambda _: print(f"removed {args.app_url}")  # noqa: E731
    else:
        reply = _get(args, "/v1/apps")
    answer(args, reply, show)


def _print_synced(reply: dict[str, Any]) -> None:
    app = reply["data"]
    print(f"synced {app['url']} ({app['name'] or 'no name'})")


def _print_resynced(reply: dict[str, Any]) -> None:
    if not reply["data"]:
        print("no apps")
    for result in reply["data"]:
        url, error = result["url"], result["error"]
        # The syncer's error names the URL already: printed once, at the start of the line.
        problem = str(error).removeprefix(f"cannot sync {url}: ")
        print(f"{url}: synced" if result["ok"] else f"{url}: not synced: {problem}")


def _print_apps(reply: dict[str, Any]) -> None:
    rows = [
        [a["url"], a["name"], a["synced_at"] or "never", a["error"] or ""] for a in reply["data"]
    ]
    print_listing(["APP URL", "NAME", "SYNCED", "ERROR"], rows, "app")


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
