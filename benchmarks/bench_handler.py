"""Benchmark: a call through our aiohttp handler vs the official Python SDK, over loopback.

    python benchmarks/bench_handler.py [--seconds 3] [--concurrency 8]

Both servers serve the same function: N steps, each returning a small mapping. The call
carries all N steps memoised, so each request folds N results and finishes with 200 and the
accumulated data (N = 0, 100, 1000). Ours is `inngest_dsl.aiohttp.serve` under aiohttp; the
official SDK (inngest 0.5.19) is served by its fastest adapter, FastAPI on uvicorn (install
them with `pip install -e '.[bench]'`; its async functions cannot run on plain Flask). Each server
runs in its own process; this process is the load generator (a minimal keep-alive HTTP/1.1
client, so the generator costs as little CPU as possible), and the servers are measured one
at a time. Prints requests/s, p50 and p99 latency, and the ratios ours / official.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import socket
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

SIZES = (0, 100, 1000)
APP_ID = "bench"
PATH = "/api/inngest"


def _step_result(i: int) -> dict[str, int]:
    return {f"k{i}": i}


def call_body(n: int) -> bytes:
    """The executor's call request with steps 0..n-1 memoised (JCS-like sorted keys)."""
    trigger = {"name": "bench/go", "data": {}, "user": {}, "id": "01EVENT", "ts": 1_700_000_000_000}
    steps = {
        hashlib.sha1(f"step {i}".encode()).hexdigest(): {"data": _step_result(i)} for i in range(n)
    }
    body = {
        "ctx": {
            "attempt": 0,
            "disable_immediate_execution": False,
            "env": "",
            "fn_id": "00000000-0000-4000-a000-000000000000",
            "max_attempts": 5,
            "run_id": "01RUN",
            "stack": {"current": n, "stack": list(steps)},
            "step_id": "step",
            "use_api": False,
        },
        "event": trigger,
        "events": [trigger],
        "steps": steps,
        "use_api": False,
        "version": 2,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# -- servers (each in its own process) ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_ours(port: int) -> None:
    from aiohttp import web

    from inngest_dsl import Context, InngestFunction, step
    from inngest_dsl.aiohttp import serve
    from inngest_dsl.client import Inngest

    def make(i: int) -> Callable[[Any, Context], Any]:
        async def body(self: Any, ctx: Context) -> dict[str, int]:
            return _step_result(i)

        return body

    functions = []
    for n in SIZES:

        class Steps(InngestFunction, id=f"steps-{n}", event="bench/go"):
            for i in range(n):
                step(f"step {i}")(make(i))

        functions.append(Steps)
    app = web.Application()
    serve(app, Inngest(APP_ID, is_dev=True), functions)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _official_functions() -> tuple[Any, list[Any]]:
    import inngest

    client = inngest.Inngest(app_id=APP_ID, is_production=False)

    def make(i: int) -> Callable[[], Any]:
        async def body() -> dict[str, int]:
            return _step_result(i)

        return body

    functions = []
    for n in SIZES:

        @client.create_function(fn_id=f"steps-{n}", trigger=inngest.TriggerEvent(event="bench/go"))
        async def fn(ctx: inngest.Context, n: int = n) -> dict[str, int]:
            data: dict[str, int] = {}
            for i in range(n):
                data.update(await ctx.step.run(f"step {i}", make(i)))
            return data

        functions.append(fn)
    return client, functions


def official_server_kind() -> str:
    """What serves the official SDK; exits naming the missing package if it is not installed."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            f"{exc.name} is missing: install the benchmark extras, pip install -e '.[bench]'"
        ) from None
    return "FastAPI + uvicorn"


def serve_official(port: int) -> None:
    warnings.simplefilter("ignore")
    import logging

    import fastapi
    import inngest.fast_api
    import uvicorn

    logging.getLogger("inngest").setLevel(logging.ERROR)
    client, functions = _official_functions()
    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, functions)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def _wait_until_up(port: int, deadline: float = 20.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start within {deadline}s")


# -- load generator ------------------------------------------------------------------------


class Connection:
    """A keep-alive HTTP/1.1 connection that repeats one prepared request."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("response without Content-Length: " + lines[0])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def _request(port: int, n: int, body: bytes) -> bytes:
    head = (
        f"POST {PATH}?fnId={APP_ID}-steps-{n}&stepId=step HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


async def _load(
    port: int, n: int, body: bytes, seconds: float, concurrency: int
) -> tuple[int, list[float], bytes]:
    request = _request(port, n, body)
    connections = [await Connection.open(port) for _ in range(concurrency)]
    status, first = await connections[0].send(request)
    if status != 200:
        raise RuntimeError(f"port {port}, N={n}: HTTP {status}: {first[:300]!r}")
    latencies: list[float] = []
    warmup_end = time.perf_counter() + min(0.5, seconds / 4)
    end = warmup_end + seconds

    async def worker(conn: Connection) -> None:
        while True:
            start = time.perf_counter()
            if start >= end:
                return
            status, _ = await conn.send(request)
            done = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"HTTP {status}")
            if start >= warmup_end:
                latencies.append(done - start)

    await asyncio.gather(*(worker(c) for c in connections))
    for conn in connections:
        conn.close()
    return len(latencies), latencies, first


def measure(port: int, n: int, seconds: float, concurrency: int) -> dict[str, Any]:
    body = call_body(n)
    count, latencies, first = asyncio.run(_load(port, n, body, seconds, concurrency))
    latencies.sort()
    return {
        "rps": count / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "body": json.loads(first),
        "requests": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per case")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    ports = {"ours": _free_port(), "official": _free_port()}
    servers = {
        "ours": context.Process(target=serve_ours, args=(ports["ours"],), daemon=True),
        "official": context.Process(target=serve_official, args=(ports["official"],), daemon=True),
    }
    served_by = official_server_kind()  # before starting anything: exits if not installed
    for process in servers.values():
        process.start()
    try:
        for port in ports.values():
            _wait_until_up(port)
        results: dict[tuple[str, int], dict[str, Any]] = {}
        for n in SIZES:
            for name in ("ours", "official"):
                results[name, n] = measure(ports[name], n, args.seconds, args.concurrency)
            if results["ours", n]["body"] != results["official", n]["body"]:
                raise RuntimeError(f"N={n}: the two servers returned different results")
    finally:
        for process in servers.values():
            process.terminate()
            process.join(5)

    python = sys.version.split()[0]
    print(f"python {python}, {os.cpu_count()} CPUs, {args.concurrency} keep-alive connections,")
    print(f"{args.seconds:g} s per case; official SDK served by {served_by}")
    print()
    header = (
        "| memoised steps | ours req/s | official req/s | ratio | ours p50 / p99 ms "
        "| official p50 / p99 ms |"
    )
    print(header)
    print("|---:|---:|---:|---:|---:|---:|")
    for n in SIZES:
        ours, theirs = results["ours", n], results["official", n]
        print(
            f"| {n:,} | {ours['rps']:,.0f} | {theirs['rps']:,.0f} | "
            f"{ours['rps'] / theirs['rps']:.1f}x | {ours['p50']:.2f} / {ours['p99']:.2f} | "
            f"{theirs['p50']:.2f} / {theirs['p99']:.2f} |"
        )


if __name__ == "__main__":
    main()
