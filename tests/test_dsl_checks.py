"""Block signatures and class keywords are checked when the class is created."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    DefinitionError,
    InngestFunction,
    invoke,
    run,
    send_event,
    sleep_until,
    step,
)


def problems_of(make: Any) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        make()
    return list(info.value.problems)


def test_block_methods_must_take_self_and_ctx_and_return() -> None:
    def make() -> None:
        class Broken(InngestFunction, event="app/x"):
            @step("no ctx")
            def no_ctx(self) -> None: ...

            @run("extra")
            async def extra(self, ctx: Context, more: int) -> None: ...

            @step("generator")
            def generator(self, ctx: Context) -> Iterator[int]:
                yield 1

            @step("async generator")
            async def agen(self, ctx: Context) -> AsyncIterator[int]:
                yield 1

            @sleep_until("when")
            def when(self) -> str:
                return "2030-01-01"

            @invoke("call", function="other-app-fn")
            def payload(self) -> dict[str, int]:
                return {}

            @send_event("send")
            def send(ctx: Context) -> None: ...  # forgot self

    assert problems_of(make) == [
        "step 'no ctx': the method must take (self, ctx), got no_ctx(self)",
        "run 'extra': the method must take (self, ctx), got extra(self, ctx, more)",
        "step 'generator': the method is a generator (it yields); a block returns its "
        "result: use return",
        "step 'async generator': the method is a generator (it yields); a block returns its "
        "result: use return",
        "sleep_until 'when': the method must take (self, ctx), got when(self)",
        "invoke 'call': the method must take (self, ctx), got payload(self)",
        "send_event 'send': the method must take (self, ctx), got send(ctx)",
    ]


def test_flexible_signatures_are_accepted() -> None:
    class Flexible(InngestFunction, event="app/x"):
        @step("varargs")
        def varargs(self, *args: Any) -> None: ...

        @step("defaults")
        def defaults(self, ctx: Context, extra: int = 1) -> None: ...

    assert len(Flexible.__inngest_spec__.ops) == 2  # type: ignore[union-attr]


def test_misspelt_class_keywords_are_reported_with_the_others_and_a_suggestion() -> None:
    def make() -> None:
        class Typos(  # type: ignore[call-arg]
            InngestFunction, event="app/x", evnt="app/y", retires=3, concurency=2
        ):
            @step("s")
            def s(self) -> None: ...

    assert problems_of(make) == [
        "unknown class keyword evnt=; did you mean event=?",
        "unknown class keyword retires=; did you mean retries=?",
        "unknown class keyword concurency=; did you mean concurrency=?",
        "step 's': the method must take (self, ctx), got s(self)",
    ]


def test_a_keyword_like_nothing_known_is_reported_without_a_suggestion() -> None:
    def make() -> None:
        class Odd(InngestFunction, event="app/x", zzz=1):  # type: ignore[call-arg]
            pass

    assert problems_of(make) == ["unknown class keyword zzz="]


def test_a_mixin_first_and_a_base_taking_more_keywords_work() -> None:
    class Mixin:
        def helper(self) -> int:
            return 1

    class Team(InngestFunction, abstract=True):
        def __init_subclass__(cls, *, team: str = "", **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            cls.team = team  # type: ignore[attr-defined]

    class Mixed(Mixin, Team, event="app/x", team="growth"):  # type: ignore[call-arg]
        pass

    assert Mixed.team == "growth"  # type: ignore[attr-defined]
