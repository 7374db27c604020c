"""What every `inngest-dsl` command shares: a user error is one line and exit status 2."""

from __future__ import annotations

import errno
import socket

__all__ = ["UsageError", "bind_problem", "listen_problem"]


class UsageError(Exception):
    """A problem to report in one line, exit status 2."""


def bind_problem(flag: str, port: int, exc: OSError) -> str:
    """Why a port could not be listened on, in one line naming the flag that sets it."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use (choose another with {flag})"
    return f"cannot listen on port {port}: {exc.strerror or exc}"


def listen_problem(host: str, port: int, exc: OSError) -> str:
    """Why the dev server could not listen on `--host` and `--port`, in one line."""
    if isinstance(exc, socket.gaierror):
        return f"--host {host}: no such host or address ({exc.strerror or exc})"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: cannot listen there, it is not an address of this machine"
    return bind_problem("--port", port, exc)
