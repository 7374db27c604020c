"""The keys of `steps=` and `waits=`: ids, handles, and `ctx_step(id)` for steps bodies add at
run time; and what is wrong with an id that names nothing the function declares.

An id no declared block has may still be a `ctx.step` step, which shows only once a body
runs. So that a misspelt id never lets the real body it meant to replace run, an unknown id
close to a declared one (and not that id with more added, as `"process 1"` is to `"process"`)
is refused before anything runs; a `ctx.step` id that happens to look like a misspelling is
written `ctx_step("id")`.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Sequence

from attrs import frozen

from inngest_dsl.spec._function import FunctionSpec

__all__ = ["CtxStep", "ctx_step", "did_you_mean", "method_id", "unknown_id_problem"]


@frozen
class CtxStep:
    """A `steps=` / `waits=` key naming a step a body adds at run time with `ctx.step`."""

    id: str


def ctx_step(id: str) -> CtxStep:
    """Key a mock or scripted wait by the id of a step a body adds with `ctx.step`.

    `steps={ctx_step("charge 1"): {...}}`. A plain id works too, unless it is so close to a
    declared block's id that it looks misspelt: this says it is meant.
    """
    if not isinstance(id, str) or not id.strip():
        raise TypeError(f"ctx_step() takes the step's id, a non-empty string, got {id!r}")
    return CtxStep(id)


def method_id(key: object, specs: Iterable[FunctionSpec]) -> str | None:
    """The id of the block whose method `key` is (`steps={Checkout.charge: ...}`), or `None`
    when `key` is not a method (a string, a handle); `ValueError` for a method that is no
    block of these functions."""
    if isinstance(key, (str, type)) or not callable(key):
        return None
    target = inspect.unwrap(getattr(key, "__func__", key))
    for spec in specs:
        for op in spec.ops:
            body = getattr(op, "body", None)
            if body is not None and inspect.unwrap(body) is target:
                return op.id
    name = getattr(target, "__qualname__", repr(target))
    raise ValueError(f"{name} is not a block of {' or '.join(repr(s.id) for s in specs)}")


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """`"; did you mean 'x'?"` naming the close matches, or `""`."""
    close = difflib.get_close_matches(name, list(known), n=3)
    if not close:
        return ""
    return f"; did you mean {' or '.join(map(repr, close))}?"


def unknown_id_problem(
    given: str,
    key_id: str,
    declared: str,
    known: Sequence[str],
    listing: str,
    *,
    adds_steps: bool,
) -> str | None:
    """The problem with `key_id`, which no declared block has; `None` if it may name a
    `ctx.step` step (the function adds steps at run time, and it is close to no block's id).

    `given` is how the test gave it (`"steps= mocks"`), `declared` what it is not (`"a block
    with a body of function 'f'"`), `listing` the ids it could be (`"blocks that can be
    mocked"`)."""
    hint = did_you_mean(key_id, known)
    # Ids bodies give their steps are often a block's id and more (`f"process {item}"` in
    # block "process"): such an id is taken for a step added at run time, not a misspelling.
    if adds_steps and not did_you_mean(key_id, [k for k in known if k not in key_id]):
        return None
    problem = (
        f"{given} {key_id!r}, which is not {declared}{hint} "
        f"({listing}: {', '.join(map(repr, known)) or 'none'})"
    )
    if adds_steps:
        problem += (
            f"; if {key_id!r} is a step a body adds with ctx.step, key it as "
            f"ctx_step({key_id!r})"
        )
    return problem
