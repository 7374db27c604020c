"""The `inngest-dsl` command: `dev` (run the dev server), `send` (an event), and the
commands that look at and act on a running dev server (`runs`, `run`, `cancel`, `rerun`,
`invoke`, `bulk-cancel`, `events`, `functions`, `apps`; see `parsers`).

Every user error is one line on stderr and exit status 2. Each command loads only what it
needs, so `inngest-dsl --version` and `--help` answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from collections.abc import Sequence
from typing import NoReturn

from inngest_dsl._version import __version__
from inngest_dsl.devserver.cli.parsers import KEY_HELP, add_client_commands
from inngest_dsl.devserver.cli.usage import UsageError
from inngest_dsl.devserver.config import DEFAULT_DB, DEFAULT_RETAIN, parse_retain

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments in one line (plus a pointer to --help), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _retain(text: str) -> float | None:
    try:
        return parse_retain(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def retain_setting(args: argparse.Namespace) -> float | None:
    """`--retain` if given, else `INNGEST_DEV_RETAIN`, else 7 days; a `UsageError` naming the
    variable when it is the variable that is wrong."""
    if "retain" in vars(args):
        retain: float | None = args.retain
        return retain
    variable = os.environ.get("INNGEST_DEV_RETAIN")
    if variable is None:
        return DEFAULT_RETAIN
    try:
        return parse_retain(variable)
    except ValueError as exc:
        raise UsageError(f"INNGEST_DEV_RETAIN: {exc}") from None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return int(text)


def _http_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inngest-dsl",
        description="Run Inngest functions locally: a pure-Python dev server on SQLite.",
        epilog=(
            "examples:\n"
            "  inngest-dsl dev -u http://127.0.0.1:3000/api/inngest\n"
            "  inngest-dsl dev --app shop.web:app --app-port 3000\n"
            "  inngest-dsl send app/user.created --data '{\"id\": 1}'\n"
            "  inngest-dsl runs --status Failed --json\n"
            "  inngest-dsl rerun RUN_ID --from charge\n"
            "  inngest-dsl invoke shop-checkout --data '{\"order\": 7}'\n"
            "  inngest-dsl apps add http://127.0.0.1:3000/api/inngest\n"
            "\n"
            "The commands after dev talk to the dev server at --url, else INNGEST_DEV (a URL),\n"
            "else INNGEST_BASE_URL, else http://127.0.0.1:8288."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"inngest-dsl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    dev = commands.add_parser(
        "dev",
        help="start the dev server",
        description=(
            "Start the dev server: event API, function registration, executor, cron and a JSON "
            "API on one port. Point apps at it with INNGEST_DEV=http://127.0.0.1:8288."
        ),
    )
    dev.add_argument(
        "-u",
        "--sdk-url",
        dest="urls",
        action="append",
        default=[],
        type=_http_url,
        metavar="APP_URL",
        help="an app's serve URL to sync, e.g. http://127.0.0.1:3000/api/inngest (repeatable)",
    )
    dev.add_argument("--host", default="127.0.0.1", help="interface to listen on (%(default)s)")
    dev.add_argument("-p", "--port", type=_port, default=8288, help="port (%(default)s)")
    dev.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="PATH",
        help="SQLite file, or :memory: for a throwaway server (%(default)s)",
    )
    dev.add_argument(
        "--signing-key",
        metavar="KEY",
        help="sign calls and sync pings with this key, and require it (or the UI's login) on "
        "every route but /health (default: open and unsigned, like the Inngest dev server)",
    )
    dev.add_argument(
        "--event-key", metavar="KEY", help="accept events only for this key (default: any key)"
    )
    dev.add_argument(
        "--retry-interval",
        type=_positive,
        metavar="SECONDS",
        help="retry failed calls after this constant delay instead of the backoff table",
    )
    dev.add_argument(
        "--poll-interval",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="re-sync apps this often (%(default)s)",
    )
    dev.add_argument(
        "--app",
        metavar="MODULE:APP",
        help="import an aiohttp Application or an ASGI app (or a factory of one), serve it too",
    )
    dev.add_argument(
        "--app-port", type=_port, default=3000, metavar="PORT", help="port for --app (%(default)s)"
    )
    dev.add_argument(
        "--concurrency",
        type=_positive_int,
        default=64,
        metavar="N",
        help="calls to apps in flight at most (%(default)s)",
    )
    dev.add_argument(
        "--retain",
        type=_retain,
        default=argparse.SUPPRESS,  # then INNGEST_DEV_RETAIN, read by `retain_setting`
        metavar="DURATION",
        help="prune finished runs (and the events only they used) older than this; 0 or "
        "forever keeps them all (default: $INNGEST_DEV_RETAIN or 7d)",
    )
    dev.add_argument("-q", "--quiet", action="store_true", help="log warnings only")

    send = commands.add_parser(
        "send", help="send an event", description="Send one event to a running dev server."
    )
    send.add_argument("name", help="event name, e.g. app/user.created")
    send.add_argument("--data", default="{}", help="event data as a JSON object (%(default)s)")
    send.add_argument("--id", help="event id (deduplication key)")
    send.add_argument(
        "--url", help="the dev server (default: INNGEST_DEV, INNGEST_BASE_URL, or :8288)"
    )
    send.add_argument(
        "--event-key",
        metavar="KEY",
        help="the dev server's event key, if it has one (default: INNGEST_EVENT_KEY, else dev)",
    )
    send.add_argument("--signing-key", metavar="KEY", help=KEY_HELP)
    send.add_argument("--json", action="store_true", help="print the event API's JSON answer")

    add_client_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `inngest-dsl`; returns the exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`inngest-dsl runs | head -1`): what it read is what it wanted.
        # Python would report the failed flush again at exit; point stdout at nothing instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "dev":
            import asyncio
            import logging

            logging.basicConfig(
                level=logging.WARNING if args.quiet else logging.INFO,
                format="%(asctime)s %(levelname)s %(message)s",
            )
            logging.getLogger("aiohttp").setLevel(logging.WARNING)
            from inngest_dsl.devserver.cli.dev import run_dev

            args.retain = retain_setting(args)
            asyncio.run(run_dev(args))
        elif args.command == "send":
            from inngest_dsl.devserver.cli.client import send_event

            send_event(args)
        else:
            from inngest_dsl.devserver.cli.commands import COMMANDS

            COMMANDS[args.command](args)
        sys.stdout.flush()
    except UsageError as exc:
        print(f"inngest-dsl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
