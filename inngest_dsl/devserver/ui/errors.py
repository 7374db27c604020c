"""A run's or step's error made readable: the message first, then the stack as text, with the
user's own frames first and the SDK's and the runtime's folded away.

Errors arrive as the SDKs send them: an object with `name`, `message` and `stack`, sometimes
the same object as a JSON string, sometimes a bare string. Python tracebacks and JavaScript
stacks are both split into frames.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

__all__ = ["ReadableError", "readable_error"]

# Paths of frames that are not the user's code: the SDKs, the standard library, dependencies.
_LIBRARY = re.compile(
    r"(site-packages|dist-packages|/inngest_dsl/|/inngest/|node_modules|/lib/python3\.\d+/"
    r"|<frozen |\(node:|asyncio)"
)
_PY_FRAME = re.compile(r'^\s*File "')
_JS_FRAME = re.compile(r"^\s*at ")


@attrs.frozen
class ReadableError:
    """`name: message`, the stack's leading lines, its frames split by whose they are, and any
    other fields of the error object."""

    name: str
    message: str
    head: list[str]
    user_frames: list[str]
    library_frames: list[str]
    tail: list[str]
    extra: dict[str, Any]

    @property
    def has_stack(self) -> bool:
        return bool(self.head or self.user_frames or self.library_frames or self.tail)


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _frames(stack: str) -> tuple[list[str], list[str], list[str]]:
    """The stack's lines before its frames, its frames (a Python frame with its source line),
    and the lines after them (a traceback ends with the exception)."""
    lines = stack.replace("\\n", "\n").splitlines()
    head: list[str] = []
    frames: list[str] = []
    tail: list[str] = []
    for line in lines:
        if _PY_FRAME.match(line) or _JS_FRAME.match(line):
            frames.append(line.strip())
        elif (
            frames
            and not tail
            and line.startswith((" ", "\t"))
            and _PY_FRAME.match(frames[-1].split("\n")[0])
        ):
            frames[-1] += "\n    " + line.strip()
        elif frames:
            tail.append(line)
        else:
            head.append(line)
    return head, frames, tail


def readable_error(value: Any) -> ReadableError:
    """What to show of an error value, whatever shape it came in."""
    value = _decoded(value)
    if not isinstance(value, dict):
        text = "" if value is None else str(value)
        return ReadableError("Error", text, [], [], [], [], {})
    name = str(value.get("name") or "Error")
    message = value.get("message")
    message_text = (
        message if isinstance(message, str) else "" if message is None else json.dumps(message)
    )
    stack = value.get("stack")
    head: list[str] = []
    frames: list[str] = []
    tail: list[str] = []
    if isinstance(stack, str) and stack.strip():
        head, frames, tail = _frames(stack)
        # A JS stack repeats `name: message` as its first line: it is shown above already.
        if head and head[0].strip() in (f"{name}: {message_text}", name, message_text):
            head = head[1:]
        if tail and tail[-1].strip() in (f"{name}: {message_text}", name):
            tail = tail[:-1]
    user = [f for f in frames if not _LIBRARY.search(f.split("\n")[0])]
    library = [f for f in frames if _LIBRARY.search(f.split("\n")[0])]
    # Python prints the innermost frame last; the user's nearest frame is what they look for.
    if frames and _PY_FRAME.match(frames[0]):
        user.reverse()
        library.reverse()
    extra = {k: v for k, v in value.items() if k not in ("name", "message", "stack")}
    return ReadableError(name, message_text, head, user, library, tail, extra)
