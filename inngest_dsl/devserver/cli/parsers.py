"""The arguments of the commands that talk to a running dev server over its JSON API.

Only `argparse` here: `inngest-dsl --help` builds these parsers without loading anything else.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["KEY_HELP", "MAX_LIMIT", "STATUSES", "add_client_commands"]

STATUSES = ("Queued", "Running", "Completed", "Failed", "Cancelled", "Skipped")
"""Run statuses, as the API spells them (`store.records.RunStatus`; not imported, to start
fast; `tests/devserver/test_cli_client.py` holds the two to the same list)."""

MAX_LIMIT = 1000
"""The largest page the API serves (`http.params.MAX_LIMIT`; not imported, to start fast;
`tests/devserver/test_cli_client.py` holds the two to the same number)."""

_URL_HELP = (
    "the dev server (default: INNGEST_DEV if it is a URL, else INNGEST_BASE_URL, "
    "else http://127.0.0.1:8288)"
)


KEY_HELP = "the dev server's signing key, if it has one (default: INNGEST_SIGNING_KEY)"


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_LIMIT}, got {text!r}"
        )
    return int(text)


def _run_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a run id, got an empty string")
    return text


def _common(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    # A nested action's own defaults would hide the options given before it (`apps --json
    # add URL`): there they are left unset unless given.
    default: Any = argparse.SUPPRESS if nested else None
    parser.add_argument("--url", default=default, help=_URL_HELP)
    parser.add_argument("--signing-key", metavar="KEY", default=default, help=KEY_HELP)
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if nested else False,
        help="print the API's JSON",
    )


def _page(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit", type=_limit, default=20, help=f"how many, 1-{MAX_LIMIT} (%(default)s)"
    )
    parser.add_argument("--cursor", help="the cursor a previous page ended with")
    parser.add_argument("--after", metavar="TIME", help="only since this RFC 3339 time")
    parser.add_argument("--before", metavar="TIME", help="only before this RFC 3339 time")


def add_client_commands(commands: Any) -> None:
    """Add `runs`, `run`, `cancel`, `rerun`, `invoke`, `bulk-cancel`, `events`, `functions`
    and `apps` to the subcommand set `commands`."""
    runs = commands.add_parser(
        "runs",
        help="list and search runs",
        description="List runs of a running dev server, newest first, a page at a time.",
    )
    _common(runs)
    _page(runs)
    runs.add_argument(
        "--status",
        action="append",
        help=f"only runs with this status ({', '.join(STATUSES)}); repeatable",
    )
    runs.add_argument("--function", metavar="ID", help="only runs of this function")
    runs.add_argument("--event", metavar="ID", help="only runs this event started")

    run = commands.add_parser("run", help="show one run and its steps")
    run.add_argument("run_id", metavar="RUN_ID", type=_run_id)
    _common(run)

    cancel = commands.add_parser("cancel", help="cancel a run")
    cancel.add_argument("run_id", metavar="RUN_ID", type=_run_id)
    _common(cancel)

    rerun = commands.add_parser(
        "rerun",
        help="run a run's events again",
        description="Start a new run from a run's events; with --from, the steps before STEP "
        "keep their results and do not run again.",
    )
    rerun.add_argument("run_id", metavar="RUN_ID", type=_run_id)
    rerun.add_argument("--from", dest="from_step", metavar="STEP", help="a step id or name")
    _common(rerun)

    invoke = commands.add_parser(
        "invoke",
        help="start a function with a payload",
        description="Start a run of a function whatever its triggers, with an "
        "inngest/function.invoked event carrying --data.",
    )
    invoke.add_argument("function", metavar="FUNCTION", help="function id (app-fn, or fn)")
    invoke.add_argument("--data", default="{}", help="event data as a JSON object (%(default)s)")
    _common(invoke)

    bulk = commands.add_parser(
        "bulk-cancel",
        help="cancel a function's runs in a time range",
        description="Cancel the queued and running runs of a function queued between --after "
        "and --before, optionally only those whose event makes --if true.",
    )
    bulk.add_argument("function", metavar="FUNCTION")
    bulk.add_argument("--after", required=True, metavar="TIME", help="RFC 3339 time")
    bulk.add_argument("--before", required=True, metavar="TIME", help="RFC 3339 time")
    bulk.add_argument("--if", dest="expression", metavar="EXPR", help="CEL over `event`")
    _common(bulk)

    events = commands.add_parser("events", help="list events, newest first")
    _common(events)
    _page(events)
    events.add_argument("--name", help="only events with this name")
    events.add_argument(
        "--internal", action="store_true", help="include inngest/... events the server emits"
    )

    functions = commands.add_parser("functions", help="list registered functions")
    _common(functions)

    apps = commands.add_parser(
        "apps",
        help="list, add, re-sync or remove apps",
        description="Without an action: list apps with their last sync and error.",
    )
    _common(apps)
    actions = apps.add_subparsers(dest="apps_action", metavar="ACTION")
    add = actions.add_parser("add", help="add an app by its serve URL and sync it")
    add.add_argument("app_url", metavar="APP_URL")
    resync = actions.add_parser("resync", help="sync one app (or all) again")
    resync.add_argument("app_url", metavar="APP_URL", nargs="?")
    remove = actions.add_parser("remove", help="forget an app and its functions")
    remove.add_argument("app_url", metavar="APP_URL")
    for sub in (add, resync, remove):
        _common(sub, nested=True)
