"""Benchmark: the floor under the serve handler's figures, next to issue #15's targets.

    python benchmarks/bench_floor.py [--seconds 2] [--rounds 2]

For the two calls the targets are hardest on (1,000 memoised small results, ≥100x; 100
memoised 100 KiB results, ≥3x), prints the CPU cost of work no handler can skip: parsing the
request body (`wire/_json.loads`, next to orjson, msgspec and `json.loads` on the same bytes)
and parsing it plus encoding the answer (the folded data, with `wire/_json.dumps`), in this
process, best of several rounds. Next to them, the CPU per request of our handler and of the
official SDK, each served over loopback as `bench_handler.py` serves them, and the official
figure divided by 100 and by 3: the most our handler may spend per request to meet a 100x or
a 3x target. A target whose budget is below the floor cannot be met by any handler in Python
that parses the body it is sent.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
from bench_handler import (
    OUTPUTS,
    _free_port,
    _wait_until_up,
    call_body,
    measure,
    official_server_kind,
    serve_official,
    serve_ours,
)

from inngest_dsl.wire._json import dumps, loads

FLOOR_CASES = ((1000, "small", 100), (100, "100 KiB", 3))
"""(memoised steps, outputs, target ratio) of the calls measured here."""


def _cpu_per_call(fn: Callable[[], Any], budget: float = 0.5, rounds: int = 5) -> float:
    """Best CPU time of `fn` in µs over `rounds` rounds of about `budget` seconds each."""
    start = time.process_time()
    fn()
    once = max(time.process_time() - start, 1e-6)
    calls = max(1, int(budget / once))
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


def _answer_data(parsed: dict[str, Any]) -> dict[str, Any]:
    """The data the call answers with: every memoised step's mapping, merged."""
    data: dict[str, Any] = {}
    for memo in parsed["steps"].values():
        data.update(memo["data"])
    return data


def floors(n: int, output: str) -> dict[str, float]:
    """The CPU floors of one call, in µs."""
    body = call_body(n, OUTPUTS[output])
    data = _answer_data(loads(body))

    def parse_and_encode() -> bytes:
        parsed = loads(body)
        return dumps(_answer_data(parsed))

    assert json.loads(dumps(data)) == data
    decoder = msgspec.json.Decoder()
    return {
        "bytes": len(body),
        "loads": _cpu_per_call(lambda: loads(body, finite=True)),
        "orjson": _cpu_per_call(lambda: orjson.loads(body)),
        "msgspec": _cpu_per_call(lambda: decoder.decode(body)),
        "json": _cpu_per_call(lambda: json.loads(body)),
        "parse+encode": _cpu_per_call(parse_and_encode),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measured time per case")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each server")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    args = parser.parse_args()

    served_by = official_server_kind()
    context = multiprocessing.get_context("spawn")
    ports = {"ours": _free_port(), "official": _free_port()}
    targets = {"ours": serve_ours, "official": serve_official}
    servers = {
        name: context.Process(target=targets[name], args=(port,), daemon=True)
        for name, port in ports.items()
    }
    for process in servers.values():
        process.start()
    served: dict[tuple[str, int], list[float]] = {}
    try:
        for port in ports.values():
            _wait_until_up(port)
        for _ in range(args.rounds):
            for n, output, _target in FLOOR_CASES:
                for name, process in servers.items():
                    assert process.pid is not None
                    result = measure(
                        ports[name], process.pid, n, output, args.seconds, args.concurrency
                    )
                    served.setdefault((name, n), []).append(result["cpu_us"])
    finally:
        for process in servers.values():
            process.terminate()
            process.join(5)
    measured = {n: floors(n, output) for n, output, _target in FLOOR_CASES}

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end;")
    print(f"official SDK served by {served_by}; CPU µs per request, min-max of {args.rounds}")
    print()
    print(
        "| call | body | parse: ours (msgspec) | orjson | json | parse + encode answer "
        "| ours per request | official per request | official / 100 | official / 3 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def span(values: list[float]) -> str:
        return f"{min(values):,.0f}-{max(values):,.0f}"

    for n, output, _target in FLOOR_CASES:
        floor, theirs = measured[n], served["official", n]
        print(
            f"| {n:,} x {output} | {floor['bytes'] / 1e6:.2f} MB | {floor['loads']:,.0f} "
            f"({floor['msgspec']:,.0f}) | {floor['orjson']:,.0f} | {floor['json']:,.0f} | "
            f"{floor['parse+encode']:,.0f} | {span(served['ours', n])} | {span(theirs)} | "
            f"{min(theirs) / 100:,.0f}-{max(theirs) / 100:,.0f} | "
            f"{min(theirs) / 3:,.0f}-{max(theirs) / 3:,.0f} |"
        )


if __name__ == "__main__":
    main()
