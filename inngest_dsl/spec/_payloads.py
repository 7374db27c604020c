"""User payloads as JSON and back: typed event data and typed step results, through cattrs.

One converter (cattrs' JSON preset: `datetime` as ISO 8601, sets and tuples as lists, attrs
classes and dataclasses as objects; and UUIDs as strings) turns what users return or send
into JSON, and JSON back into the type a block's return annotation or an event type names.
A payload that does not fit its type is a `PayloadError` naming the field, as `$.user_id`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import inspect
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from cattrs import ClassValidationError, IterableValidationError, transform_error
from cattrs.preconf.json import make_converter

from inngest_dsl.errors import PayloadError

__all__ = [
    "PLAIN",
    "PayloadError",
    "converter",
    "is_typed",
    "result_type",
    "structure",
    "unstructure",
]

converter = make_converter()
"""The one converter for user payloads (not the wire's: no wire hooks, JSON-ready output)."""


def _has_wire_form(cls: Any) -> bool:
    # `Event` (which imports this module, so it is not imported here): its wire form.
    return isinstance(cls, type) and callable(getattr(cls, "to_wire", None))


converter.register_unstructure_hook_func(_has_wire_form, lambda value: value.to_wire())
# UUIDs as their canonical strings, as the official SDKs' JSON gives them.
converter.register_unstructure_hook(uuid.UUID, str)
converter.register_structure_hook(uuid.UUID, lambda value, _: uuid.UUID(str(value)))

PLAIN: Any = object()
"""What `result_type` gives for a body whose result is plain JSON (nothing to structure)."""

_JSON_TYPES: frozenset[Any] = frozenset((Any, object, dict, list, str, int, float, bool, None,
                                         type(None), Mapping))  # fmt: skip


def is_typed(tp: Any) -> bool:
    """Whether values of `tp` need cattrs: attrs classes, dataclasses, dates, enums, or
    containers of them. Plain JSON types (`dict[str, Any]`, `list[int]`) do not."""
    if tp in _JSON_TYPES:
        return False
    if isinstance(tp, type):
        return (
            attrs.has(tp)
            or dataclasses.is_dataclass(tp)
            or issubclass(
                tp, (_dt.date, _dt.time, _dt.timedelta, enum.Enum, set, frozenset, tuple, uuid.UUID)
            )
        )
    if typing.get_origin(tp) in (tuple, set, frozenset):
        return True  # JSON has lists only: `tuple[int, str]` must be rebuilt
    return any(is_typed(arg) for arg in typing.get_args(tp) if arg is not Ellipsis)


def unstructure(value: Any) -> Any:
    """`value` as plain JSON values (attrs instances as objects, datetimes as strings)."""
    return converter.unstructure(value)


def structure(value: Any, tp: Any, what: str) -> Any:
    """`value` (plain JSON) as an instance of `tp`; `PayloadError` naming `what` and the field.

    `what` says whose payload it is: `"event 'auth/signup'"`, `"step 'charge'"`.
    """
    try:
        return converter.structure(value, tp)
    except (ClassValidationError, IterableValidationError) as exc:
        details = "; ".join(transform_error(exc, path="$"))
        raise PayloadError(f"{what} does not fit {_type_name(tp)}: {details}") from None
    except Exception as exc:  # a bad leaf value: cattrs raises the converter's own error
        raise PayloadError(
            f"{what} does not fit {_type_name(tp)}: {type(exc).__name__}: {exc}"
        ) from None


def _type_name(tp: Any) -> str:
    return tp.__qualname__ if isinstance(tp, type) else repr(tp)


def _return_annotation(function: Callable[..., Any]) -> Any:
    try:
        return typing.get_type_hints(function).get("return", PLAIN)
    except Exception:  # NameError and friends: some annotation names nothing defined
        pass
    # Another parameter's annotation may be what fails (`ctx: Context` imported only for type
    # checkers): evaluate the return annotation alone, as get_type_hints would.
    raw = getattr(function, "__annotations__", {}).get("return", PLAIN)
    if not isinstance(raw, str):
        return raw
    try:
        return eval(raw, getattr(function, "__globals__", {}))
    except Exception:
        return PLAIN


def result_type(body: Callable[..., Any]) -> Any:
    """The type a block's results are read back as: its resolved return annotation, unwrapped
    from `Awaitable`/`Coroutine`, or `PLAIN` when it is plain JSON, missing, or names
    something that cannot be resolved (a name imported only under `TYPE_CHECKING`)."""
    tp = _return_annotation(inspect.unwrap(body))
    origin = typing.get_origin(tp)
    if origin is not None and getattr(origin, "__name__", "") in ("Coroutine", "Awaitable"):
        args = typing.get_args(tp)
        tp = args[-1] if args else PLAIN
    if tp is PLAIN or not is_typed(tp):
        return PLAIN
    return tp
