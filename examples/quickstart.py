"""Quickstart: the example shop on the embedded dev server, one sign-up, watched to completion.

Starts `inngest-dsl dev --app examples.shop.app:app`, sends an `auth/signup` event, confirms the
sign-up once the flow waits for it, prints the run's steps, and leaves the dev server and its
web UI running until Ctrl-C (or stops at once with --exit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from inngest_dsl.devserver.store.records import KIND_LABELS

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _wait_until_up(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the dev server exited with status {process.returncode}")
        with contextlib.suppress(OSError):
            if _get(f"{base}/v1/functions")["data"]:
                return
        time.sleep(0.1)
    raise SystemExit(f"the dev server did not come up at {base} within {timeout:.0f} s")


def _run_of(base: str, event_id: str) -> dict[str, Any] | None:
    runs = _get(f"{base}/v1/events/{event_id}")["data"]["runs"]
    if not runs:
        return None
    run: dict[str, Any] = _get(f"{base}/v1/runs/{runs[0]['run_id']}")["data"]
    return run


def _poll(base: str, event_id: str, done: Any, what: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _run_of(base, event_id)
        if run is not None and done(run):
            return run
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def _print_run(run: dict[str, Any]) -> None:
    print(f"\nrun {run['run_id']} of {run['function_id']}: {run['status']}")
    for step in run["steps"]:
        shown = step["error"] if step["error"] else step["output"]
        text = json.dumps(shown)
        text = text if len(text) <= 60 else text[:57] + "..."
        kind = KIND_LABELS.get(step["kind"], step["kind"])
        print(f"  {kind:<13} {step['name']:<24} {step['status']:<10} {text}")
    print(f"  output: {json.dumps(run['output'])}")


async def _send(base: str, name: str, data: dict[str, Any]) -> str:
    from inngest_dsl import Inngest

    async with Inngest("shop", is_dev=True, event_api_base_url=base) as client:
        (event_id,) = await client.send({"name": name, "data": data})
    print(f"sent {name} {json.dumps(data)}")
    return event_id


def _demo(base: str) -> None:
    user = {"user_id": "u-42", "email": "ada@example.com"}
    event_id = asyncio.run(_send(base, "auth/signup", user))
    _poll(
        base,
        event_id,
        lambda run: any(s["kind"] == "WaitForEvent" for s in run["steps"]),
        "the sign-up flow to wait for a confirmation",
    )
    asyncio.run(_send(base, "auth/signup.confirmed", {"user_id": user["user_id"]}))
    run = _poll(base, event_id, lambda run: run["status"] in {"Completed", "Failed"}, "the run")
    _print_run(run)
    if run["status"] != "Completed":
        raise SystemExit("the run did not complete")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8288, help="dev server port (8288)")
    parser.add_argument("--app-port", type=int, default=3000, help="example app port (3000)")
    parser.add_argument("--db", default=".inngest-dsl/dev.db", help="dev server database")
    parser.add_argument("--exit", action="store_true", help="stop once the run has completed")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    command = [
        sys.executable, "-m", "inngest_dsl.devserver", "dev",
        "--app", "examples.shop.app:app",
        "--port", str(args.port), "--app-port", str(args.app_port), "--db", args.db,
    ]  # fmt: skip
    print("$ inngest-dsl " + " ".join(command[3:]))
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=environment)
    try:
        _wait_until_up(base, process)
        _demo(base)
        if not args.exit:
            print(f"\nThe dev server UI is at {base}/ (Ctrl-C to stop)")
            process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
