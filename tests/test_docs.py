"""Every Python block in README.md and guides/ runs, so the docs cannot rot.

The blocks of one page run in order in one namespace, as a reader would paste them, against a
live embedded dev server (`INNGEST_DEV` points at it). Blocks may use top-level `await`, as in
an asyncio REPL; they share one event loop per page. A block preceded by
`<!-- docs: compile-only -->` needs something the test cannot give it (a server that runs
forever, your own package); only its imports, functions and classes are executed, so its
function classes are still compiled and validated.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.testing import DevServerHarness

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "guides").glob("*.md"))]
_BLOCK = re.compile(
    r"(?P<marker><!-- docs: compile-only -->\s*\n)?^```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def python_blocks(page: Path) -> list[tuple[int, str, bool]]:
    """(line number, code, compile_only) for each Python block of a page."""
    text = page.read_text()
    return [
        (text.count("\n", 0, match.start("code")) + 1, match["code"], bool(match["marker"]))
        for match in _BLOCK.finditer(text)
    ]


def _code_of(page: Path, line: int, code: str, compile_only: bool) -> Any:
    # Pad with blank lines so tracebacks point at the block's real line in the page.
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile("\n" * (line - 1) + code, str(page), "exec", flags)
    if compile_only:
        tree.body = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
    return compile(tree, str(page), "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


async def _run_with_dev_server(test: Any) -> None:
    """Run an example test that takes the `inngest_dev_server` fixture, as pytest would."""
    harnesses: list[DevServerHarness] = []

    async def start(functions: Any, **options: Any) -> DevServerHarness:
        harness = DevServerHarness(functions, **options)
        harnesses.append(harness)
        return await harness.start()

    try:
        await test(inngest_dev_server=start)
    finally:
        for harness in harnesses:
            await harness.close()


def run_page(page: Path) -> int:
    """Execute a page's blocks, then the example tests that need the dev server fixture.

    Returns how many blocks ran. Blocks call their other tests themselves.
    """
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    blocks = python_blocks(page)
    loop = asyncio.new_event_loop()
    try:
        for line, code, compile_only in blocks:
            compiled = _code_of(page, line, code, compile_only)
            if compiled.co_flags & inspect.CO_COROUTINE:
                loop.run_until_complete(eval(compiled, namespace))
            else:
                exec(compiled, namespace)
        for name, value in list(namespace.items()):
            if (
                name.startswith("test_")
                and inspect.iscoroutinefunction(value)
                and list(inspect.signature(value).parameters) == ["inngest_dev_server"]
            ):
                loop.run_until_complete(_run_with_dev_server(value))
    finally:
        loop.close()
    return len(blocks)


@pytest.fixture(scope="module")
def live_dev_server() -> Iterator[str]:
    """A dev server on a free loopback port, in a thread of its own, for the pages to talk to."""
    started: queue.Queue[str | BaseException] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        server = DevServer(DevServerConfig(port=0, db=":memory:", poll_interval=3600.0))
        try:
            await server.start()
        except BaseException as exc:
            started.put(exc)
            raise
        started.put(server.url)
        try:
            await asyncio.to_thread(stop.wait)
        finally:
            await server.stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    url = started.get(timeout=30)
    if isinstance(url, BaseException):
        raise url
    yield url
    stop.set()
    thread.join(timeout=30)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run(
    page: Path, live_dev_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert page.exists(), page
    monkeypatch.setenv("INNGEST_DEV", live_dev_server)
    # The blocks may start event loops of their own (asyncio.run), so run them outside ours.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # pragma: no cover - this test is synchronous
        raise AssertionError("docs must run outside an event loop")
    run_page(page)


def test_broken_example_fails(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text(
        "Intro\n\n```python\nfrom inngest_dsl import InngestFunction, sleep\n\n\n"
        "class Oops(InngestFunction, event='a/b'):\n    sleep('soon')\n```\n"
    )
    with pytest.raises(TypeError, match="Oops: 1 problem") as caught:
        run_page(page)
    # The traceback points into the page, at the block's line.
    frames = [(str(entry.path), entry.lineno + 1) for entry in caught.traceback]
    assert (str(page), 7) in frames, frames  # the `class Oops` line


def test_compile_only_blocks_still_compile_classes(tmp_path: Path) -> None:
    page = tmp_path / "server.md"
    page.write_text(
        "<!-- docs: compile-only -->\n```python\nimport nowhere_module_xyz_unused as _\n```\n"
    )
    with pytest.raises(ModuleNotFoundError):
        run_page(page)
    page.write_text(
        "<!-- docs: compile-only -->\n```python\nfrom inngest_dsl import InngestFunction\n"
        "call_a_server_that_is_not_there()\n\n"
        "class Bad(InngestFunction):\n    pass\n```\n"
    )
    with pytest.raises(TypeError, match="no trigger"):
        run_page(page)
