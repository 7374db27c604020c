"""How type checkers see a `@step` method: a method, and a handle carrying its result type.

At run time `@step` returns the method unchanged; `ctx[self.charge]` finds the block by it.
These protocols only tell a type checker what the method returns once awaited, so that
`ctx[self.charge]` has the type of `charge`'s result.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar, overload

__all__ = ["AsyncStepMethod", "BoundAsyncStep", "BoundStep", "StepDecorator", "StepMethod"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class BoundStep(Protocol[T_co]):
    """A sync step's method read from `self`: `ctx[self.step]` is its result, a `T_co`."""

    def __call__(self, ctx: Any, /) -> T_co: ...


class BoundAsyncStep(Protocol[T_co]):
    """An async step's method read from `self`: `ctx[self.step]` is its result, a `T_co`."""

    def __call__(self, ctx: Any, /) -> Coroutine[Any, Any, T_co]: ...


class StepMethod(Protocol[T_co]):
    """A sync `@step` method in its class."""

    def __call__(self, instance: Any, ctx: Any, /) -> T_co: ...

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> StepMethod[T_co]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> BoundStep[T_co]: ...


class AsyncStepMethod(Protocol[T_co]):
    """An async `@step` method in its class."""

    def __call__(self, instance: Any, ctx: Any, /) -> Coroutine[Any, Any, T_co]: ...

    @overload
    def __get__(
        self, instance: None, owner: type[Any] | None = None
    ) -> AsyncStepMethod[T_co]: ...

    @overload
    def __get__(
        self, instance: object, owner: type[Any] | None = None
    ) -> BoundAsyncStep[T_co]: ...


class StepDecorator(Protocol):
    """What `step("message")` returns: the decorator of a sync or async method."""

    @overload
    def __call__(
        self, body: Callable[[Any, Any], Coroutine[Any, Any, T]], /
    ) -> AsyncStepMethod[T]: ...

    @overload
    def __call__(self, body: Callable[[Any, Any], T], /) -> StepMethod[T]: ...
