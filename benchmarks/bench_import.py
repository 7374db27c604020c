"""Benchmark: what importing the package and starting the CLI cost, next to importing aiohttp.

    python benchmarks/bench_import.py [--runs 15]

Each command runs in a fresh interpreter, `--runs` times, after one warm-up run (so the files
are in the page cache and the bytecode is compiled). The commands take turns, one run of each
per round, so a busy machine slows them all alike. For each run the CPU time (user + system)
is read from `resource.getrusage(RUSAGE_CHILDREN)` before and after it; the wall time is
measured around it. Prints the median of each and the ratio of ours to `import aiohttp`. A
figure, not a test: the targets are an import at most 1.3x aiohttp's and `inngest-dsl
--version` under 0.5 s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_IMPORT_RATIO = 1.3
TARGET_VERSION_SECONDS = 0.5


def _cli() -> list[str]:
    """The `inngest-dsl` script next to this interpreter, else the one on PATH, else `-m`."""
    beside = Path(sys.executable).with_name("inngest-dsl")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("inngest-dsl")
    if found is not None:
        return [found]
    return [sys.executable, "-m", "inngest_dsl.devserver"]


def _commands() -> dict[str, list[str]]:
    python = sys.executable
    return {
        "import aiohttp": [python, "-c", "import aiohttp"],
        "import inngest_dsl": [python, "-c", "import inngest_dsl"],
        "from inngest_dsl import Inngest": [python, "-c", "from inngest_dsl import Inngest"],
        "inngest-dsl --version": [*_cli(), "--version"],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str]) -> tuple[float, float]:
    """CPU seconds and wall seconds of one fresh run of `command`."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return _children_cpu() - cpu_before, time.perf_counter() - started


def _measure(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Median CPU seconds and median wall seconds of each command, over `runs` rounds."""
    for command in commands.values():
        _run(command)  # warm-up
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(_run(command))
    return {
        name: (statistics.median(c for c, _ in runs_), statistics.median(w for _, w in runs_))
        for name, runs_ in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (median)")
    args = parser.parse_args(argv)
    figures = _measure(_commands(), args.runs)
    aiohttp_cpu = figures["import aiohttp"][0]
    print(f"Python {sys.version.split()[0]}, {args.runs} runs each, medians")
    print(f"{'command':<34} {'CPU ms':>8} {'wall ms':>8} {'CPU vs aiohttp':>15}")
    for name, (cpu, wall) in figures.items():
        print(f"{name:<34} {cpu * 1000:>8.0f} {wall * 1000:>8.0f} {cpu / aiohttp_cpu:>14.2f}x")
    ours_cpu, _ = figures["import inngest_dsl"]
    _, version_wall = figures["inngest-dsl --version"]
    ratio = ours_cpu / aiohttp_cpu
    met = ratio <= TARGET_IMPORT_RATIO
    print(
        f"import inngest_dsl / import aiohttp: {ratio:.2f}x CPU "
        f"(target <= {TARGET_IMPORT_RATIO}x: {'met' if met else 'NOT met'})"
    )
    met = version_wall < TARGET_VERSION_SECONDS
    print(
        f"inngest-dsl --version: {version_wall:.3f} s wall "
        f"(target < {TARGET_VERSION_SECONDS} s: {'met' if met else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
