"""Calls to plain-HTTP apps on keep-alive HTTP/1.1 connections, without a client library.

A call is one `POST` and one answer; aiohttp's client spends about four times the CPU of the
exchange itself on what a call never uses (cookies, redirects, proxies, tracing). This sends
the request, reads the status, headers and body (by `Content-Length`, chunked or to the end),
and keeps the connection for the next call unless the app said `Connection: close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib

import yarl
from multidict import CIMultiDict

__all__ = ["Answer", "KeepAliveClient", "LostBeforeAnswer"]

Answer = tuple[int, "CIMultiDict[str]", bytes]
"""Status, headers and body of an app's answer."""

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LostBeforeAnswer(ConnectionError):
    """A reused connection closed before any byte of the answer: the app never saw the call."""


class KeepAliveClient:
    """Idle connections by host and port; `post` takes one (or opens one) per call."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def post(
        self, url: yarl.URL, headers: dict[str, str], body: bytes, timeout: float | None
    ) -> Answer:
        """Send `body` to `url` (an `http` URL) and read the answer.

        Raises `LostBeforeAnswer` when a reused connection turned out closed, `OSError` /
        `asyncio.IncompleteReadError` / `ValueError` / `asyncio.TimeoutError` otherwise.
        """
        host, port = url.raw_host or "", url.port or 80
        idle = self._idle.get((host, port))
        reused = bool(idle)
        if idle:
            reader, writer = idle.pop()
        else:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout
            )
        lines = [
            f"POST {url.raw_path_qs} HTTP/1.1",
            f"Host: {host}" if url.is_default_port() else f"Host: {host}:{port}",
            *(f"{name}: {value}" for name, value in headers.items()),
            f"Content-Length: {len(body)}",
            "",
            "",
        ]
        started: list[bool] = []
        try:
            writer.write("\r\n".join(lines).encode("latin-1") + body)
            status, answer_headers, payload, keep = await asyncio.wait_for(
                _read_answer(reader, started), timeout
            )
        except BaseException as exc:
            _close(writer)
            lost = isinstance(exc, (ConnectionError, asyncio.IncompleteReadError))
            if reused and not started and lost:
                raise LostBeforeAnswer(str(exc) or type(exc).__name__) from exc
            raise
        if keep:
            self._idle.setdefault((host, port), []).append((reader, writer))
        else:
            _close(writer)
        return status, answer_headers, payload

    def close(self) -> None:
        """Close every idle connection."""
        for connections in self._idle.values():
            for _, writer in connections:
                _close(writer)
        self._idle.clear()


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


async def _read_answer(
    reader: asyncio.StreamReader, started: list[bool]
) -> tuple[int, CIMultiDict[str], bytes, bool]:
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        started.append(True)
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        status = int(rest[:3])
        if 100 <= status < 200 and status != 101:
            continue  # an interim answer: the real one follows
        break
    headers: CIMultiDict[str] = CIMultiDict()
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    connection = headers.get("Connection", "").lower()
    keep = (version == "HTTP/1.1" and connection != "close") or connection == "keep-alive"
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        payload = await _read_chunked(reader)
    elif "Content-Length" in headers:
        payload = await reader.readexactly(int(headers["Content-Length"]))
    elif status in (204, 304):
        payload = b""
    else:
        payload, keep = await reader.read(), False  # the body ends with the connection
    encoding = headers.get("Content-Encoding", "identity").lower()
    if encoding in ("gzip", "deflate"):
        try:
            payload = zlib.decompress(payload, 47)  # 47: a gzip or zlib header, detected
        except zlib.error as exc:
            raise ValueError(f"{encoding} body: {exc}") from None
    elif encoding != "identity":
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    return status, headers, payload, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return b"".join(chunks)
        chunks.append((await reader.readexactly(size + 2))[:-2])
