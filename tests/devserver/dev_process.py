"""`inngest-dsl dev` as a subprocess, for tests that kill and restart it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.loopback import free_port


@asynccontextmanager
async def dev_process(db: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`inngest-dsl dev` in a subprocess; yields it and its URL once healthy."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "inngest_dsl.devserver",
        "dev",
        "--port",
        str(port),
        "--db",
        str(db),
        "--retry-interval",
        "0.05",
        "--poll-interval",
        "3600",
        "-q",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"{url}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline or process.returncode is not None:
                    raise AssertionError("the dev server subprocess did not become healthy")
                await asyncio.sleep(0.05)
        yield process, url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


async def request_json(method: str, url: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=body) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def poll(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
