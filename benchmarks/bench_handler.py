"""Benchmark: a call through our aiohttp handler vs the official Python SDK, over loopback.

    python benchmarks/bench_handler.py [--seconds 2] [--concurrency 8]

Both servers serve the same function: N steps, each returning a one-key mapping whose value
is small (an int), a 1 KiB string or a 100 KiB string. The call carries all N steps
memoised, so each request folds N results and finishes with 200 and the accumulated data
(N = 0, 100, 1000; 100 KiB outputs at N = 0, 10 and 100: 1,000 of them would be a 100 MB
body, past the handler's 64 MiB limit and far past the 4 MiB beyond which Inngest sends
`use_api` instead). Ours is `inngest_dsl.aiohttp.serve` under aiohttp; the
official SDK (inngest 0.5.19) is served by its fastest adapter, FastAPI on uvicorn (install
them with `pip install -e '.[bench]'`; its async functions cannot run on plain Flask). Each server
runs in its own process; this process is the load generator (a minimal keep-alive HTTP/1.1
client, so the generator costs as little CPU as possible), and the servers are measured one
at a time. Prints, per case, the CPU time each server process spent per request (from
`/proc/<pid>/stat`, steadier than wall time on a shared machine), requests/s, p50 latency,
and the ratio official / ours of CPU per request.
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

OUTPUTS = {"small": 0, "1 KiB": 1024, "100 KiB": 100 * 1024}
CASES = tuple(
    (n, output)
    for output in OUTPUTS
    for n in ((0, 10, 100) if OUTPUTS[output] > 10_000 else (0, 100, 1000))
)
APP_ID = "bench"
PATH = "/api/inngest"


def _step_result(i: int, size: int) -> dict[str, Any]:
    return {f"k{i}": "x" * size if size else i}


def _fn_id(n: int, output: str) -> str:
    return f"steps-{n}-{OUTPUTS[output]}"


def call_body(n: int, size: int) -> bytes:
    """The executor's call request with steps 0..n-1 memoised (JCS-like sorted keys)."""
    trigger = {"name": "bench/go", "data": {}, "user": {}, "id": "01EVENT", "ts": 1_700_000_000_000}
    steps = {
        hashlib.sha1(f"step {i}".encode()).hexdigest(): {"data": _step_result(i, size)}
        for i in range(n)
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

    def make(i: int, size: int) -> Callable[[Any, Context], Any]:
        async def body(self: Any, ctx: Context) -> dict[str, Any]:
            return _step_result(i, size)

        return body

    functions = []
    for n, output in CASES:

        class Steps(InngestFunction, id=_fn_id(n, output), event="bench/go"):
            for i in range(n):
                step(f"step {i}")(make(i, OUTPUTS[output]))

        functions.append(Steps)
    app = web.Application()
    serve(app, Inngest(APP_ID, is_dev=True), functions)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _official_functions() -> tuple[Any, list[Any]]:
    import inngest

    client = inngest.Inngest(app_id=APP_ID, is_production=False)

    def make(i: int, size: int) -> Callable[[], Any]:
        async def body() -> dict[str, Any]:
            return _step_result(i, size)

        return body

    functions = []
    for n, output in CASES:

        @client.create_function(
            fn_id=_fn_id(n, output), trigger=inngest.TriggerEvent(event="bench/go")
        )
        async def fn(
            ctx: inngest.Context, n: int = n, size: int = OUTPUTS[output]
        ) -> dict[str, Any]:
            data: dict[str, Any] = {}
            for i in range(n):
                data.update(await ctx.step.run(f"step {i}", make(i, size)))
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _request(port: int, fn_id: str, body: bytes) -> bytes:
    head = (
        f"POST {PATH}?fnId={APP_ID}-{fn_id}&stepId=step HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


async def _load(
    port: int, pid: int, fn_id: str, body: bytes, seconds: float, concurrency: int
) -> tuple[int, list[float], float, bytes]:
    request = _request(port, fn_id, body)
    connections = [await Connection.open(port) for _ in range(concurrency)]
    status, first = await connections[0].send(request)
    if status != 200:
        raise RuntimeError(f"port {port}, {fn_id}: HTTP {status}: {first[:300]!r}")
    latencies: list[float] = []
    warmup_end = time.perf_counter() + min(0.5, seconds / 4)
    end = warmup_end + seconds
    cpu: dict[str, float] = {}

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
                # The server's CPU clock starts with the first measured request.
                cpu.setdefault("start", _cpu_seconds(pid))

    await asyncio.gather(*(worker(c) for c in connections))
    used = _cpu_seconds(pid) - cpu["start"]
    for conn in connections:
        conn.close()
    return len(latencies), latencies, used, first


def measure(
    port: int, pid: int, n: int, output: str, seconds: float, concurrency: int
) -> dict[str, Any]:
    body = call_body(n, OUTPUTS[output])
    count, latencies, cpu, first = asyncio.run(
        _load(port, pid, _fn_id(n, output), body, seconds, concurrency)
    )
    latencies.sort()
    return {
        "rps": count / seconds,
        "cpu_us": cpu / count * 1e6,
        "p50": statistics.median(latencies) * 1000,
        "body": json.loads(first),
        "requests": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measured time per case")
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
        results: dict[tuple[str, int, str], dict[str, Any]] = {}
        for n, output in CASES:
            for name in ("ours", "official"):
                pid = servers[name].pid
                assert pid is not None
                results[name, n, output] = measure(
                    ports[name], pid, n, output, args.seconds, args.concurrency
                )
            if results["ours", n, output]["body"] != results["official", n, output]["body"]:
                raise RuntimeError(f"N={n}, {output}: the two servers returned different results")
    finally:
        for process in servers.values():
            process.terminate()
            process.join(5)

    python = sys.version.split()[0]
    load = os.getloadavg()[0]
    print(f"python {python}, {os.cpu_count()} CPUs (load average {load:.1f} at the end),")
    print(f"{args.concurrency} keep-alive connections, {args.seconds:g} s per case;")
    print(f"official SDK served by {served_by}")
    print()
    print(
        "| outputs | memoised steps | ours CPU µs/req | official CPU µs/req | CPU ratio "
        "| ours req/s | official req/s | ours p50 ms | official p50 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, output in CASES:
        ours, theirs = results["ours", n, output], results["official", n, output]
        print(
            f"| {output} | {n:,} | {ours['cpu_us']:,.0f} | {theirs['cpu_us']:,.0f} | "
            f"{theirs['cpu_us'] / ours['cpu_us']:.1f}x | {ours['rps']:,.0f} | "
            f"{theirs['rps']:,.0f} | {ours['p50']:.2f} | {theirs['p50']:.2f} |"
        )


if __name__ == "__main__":
    main()
