"""One dev server per `--db` file: two writing the same SQLite file would each run the other's
queued work and fight over its runs. `inngest-dsl dev` holds an exclusive `flock` on a sidecar
file (`PATH.lock`, holding its process id) for as long as it runs; a second one is refused in
one line naming the file and the process that has it.

A sidecar rather than the database file itself: closing any descriptor of a file drops the
POSIX locks SQLite holds on it, so the database file is left to SQLite alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from inngest_dsl.devserver.cli.usage import UsageError

__all__ = ["locked_db"]


def _prepare(path: str) -> str:
    """The absolute path of the `--db` file, its folder created; a `UsageError` if it cannot
    be one."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        raise UsageError(f"--db {path} is a folder: give the path of a file in it")
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        problem = f"--db {path}: cannot create its folder {folder}: {exc.strerror or exc}"
        raise UsageError(problem) from None
    return path


@contextlib.contextmanager
def locked_db(path: str) -> Iterator[None]:
    """Hold the `--db` file for this process (nothing for `:memory:`)."""
    if path == ":memory:":
        yield
        return
    path = _prepare(path)
    try:
        import fcntl
    except ImportError:  # not POSIX: no flock, no guard
        yield
        return
    lock_path = f"{path}.lock"
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 (held open while the server runs)
    except OSError as exc:
        raise UsageError(f"--db {path}: cannot write next to it: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            by = f" (process {holder})" if holder.isdigit() else ""
            raise UsageError(
                f"--db {path} is in use by another dev server{by}: stop it, or give another --db"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
