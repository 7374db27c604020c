"""Function options as class keywords: normalised into the spec, and every mistake reported."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from inngest_dsl import (
    Batch,
    Cancel,
    Concurrency,
    Context,
    Debounce,
    DefinitionError,
    InngestFunction,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
    Timeouts,
    spec_of,
    step,
)
from inngest_dsl.dsl._compile_options import OPTION_KEYWORDS


def _define(**keywords: Any) -> type:
    class Checkout(InngestFunction, event="shop/checkout", **keywords):
        pass

    return Checkout


def _problems(**keywords: Any) -> tuple[str, ...]:
    with pytest.raises(DefinitionError) as caught:
        _define(**keywords)
    assert caught.value.owner.endswith("Checkout")
    return caught.value.problems


# ---------------------------------------------------------------------------------------------
# What the spec holds


def test_no_options_leaves_the_spec_defaults() -> None:
    spec = spec_of(_define())
    assert spec.concurrency == ()
    assert spec.cancel_on == ()
    assert all(
        getattr(spec, name) is None
        for name in OPTION_KEYWORDS
        if name not in ("concurrency", "cancel_on")
    )


def test_options_are_normalised_into_the_spec() -> None:
    spec = spec_of(
        _define(
            concurrency=[3, Concurrency(limit=1, key="event.data.user", scope="env")],
            throttle=Throttle(limit=5, period="10s", burst=2, key="event.data.user"),
            rate_limit=RateLimit(limit=10, period=dt.timedelta(minutes=1)),
            debounce=Debounce(period="5s", timeout="1m"),
            cancel_on=["shop/cart.emptied", Cancel(event="shop/x", match="data.id", timeout="1h")],
            priority="event.data.priority",
            idempotency="event.data.order_id",
            timeouts=Timeouts(finish="1h30m"),
            singleton=Singleton(mode="cancel"),
        )
    )
    assert spec.concurrency == (
        Concurrency(limit=3),
        Concurrency(limit=1, key="event.data.user", scope="env"),
    )
    assert spec.throttle == Throttle(
        limit=5, period=dt.timedelta(seconds=10), burst=2, key="event.data.user"
    )
    assert spec.rate_limit == RateLimit(limit=10, period=dt.timedelta(minutes=1))
    assert spec.debounce == Debounce(
        period=dt.timedelta(seconds=5), timeout=dt.timedelta(minutes=1)
    )
    assert spec.cancel_on == (
        Cancel(event="shop/cart.emptied"),
        Cancel(
            event="shop/x",
            if_="event.data.id == async.data.id",
            timeout=dt.timedelta(hours=1),
        ),
    )
    assert spec.priority == Priority(run="event.data.priority")
    assert spec.idempotency == "event.data.order_id"
    assert spec.timeouts == Timeouts(finish=dt.timedelta(hours=1, minutes=30))
    assert spec.singleton == Singleton(mode="cancel")


def test_batch_is_normalised() -> None:
    spec = spec_of(_define(batch_events=Batch(max_size=100, timeout="1s", if_="event.data.ok")))
    assert spec.batch_events == Batch(
        max_size=100, timeout=dt.timedelta(seconds=1), if_="event.data.ok"
    )


def test_limits_at_the_edges_are_accepted() -> None:
    spec = spec_of(
        _define(
            concurrency=0,  # 0: no limit
            throttle=Throttle(limit=1, period="7d"),
            rate_limit=RateLimit(limit=1, period="24h"),
            debounce=Debounce(period="1s"),
            cancel_on=[f"shop/cancel.{n}" for n in range(5)],
        )
    )
    assert spec.concurrency == (Concurrency(limit=0),)
    assert len(spec.cancel_on) == 5
    assert spec.rate_limit is not None
    assert spec.rate_limit.period == dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Every mistake, named by its keyword


@pytest.mark.parametrize(
    ("keywords", "problem"),
    [
        # concurrency
        ({"concurrency": -1}, "concurrency= limit: must be at least 0, got -1"),
        ({"concurrency": "2"}, "concurrency=: expected a limit such as 2 or Concurrency(...)"),
        ({"concurrency": True}, "concurrency=: expected a limit such as 2 or Concurrency(...)"),
        ({"concurrency": [1, 2, 3]}, "concurrency=: at most 2 limits, got 3"),
        (
            {"concurrency": Concurrency(limit=1.5)},  # type: ignore[arg-type]
            "concurrency= limit: must be a whole number, got 1.5",
        ),
        ({"concurrency": [1, Concurrency(limit=-2)]}, "concurrency=[1] limit: must be at least 0"),
        (
            {"concurrency": Concurrency(limit=1, key="event.data.")},
            "concurrency= key: invalid expression 'event.data.'",
        ),
        (
            {"concurrency": Concurrency(limit=1, scope="app")},  # type: ignore[arg-type]
            "concurrency= scope: must be 'fn', 'env' or 'account', got 'app'",
        ),
        (
            {"concurrency": Concurrency(limit=1, scope="account")},
            "concurrency= scope: a limit shared across functions (scope='account') needs a key=",
        ),
        (
            {"concurrency": Concurrency(limit=1, scope="env")},
            "concurrency= scope: a limit shared across functions (scope='env') needs a key=",
        ),
        # throttle
        ({"throttle": 5}, "throttle=: expected Throttle(...), got 5"),
        ({"throttle": Throttle(limit=0, period="1s")}, "throttle= limit: must be at least 1"),
        (
            {"throttle": Throttle(limit=1, period="1s", burst=0)},
            "throttle= burst: must be at least 1",
        ),
        (
            {"throttle": Throttle(limit=1, period="8d")},
            "throttle= period: must be between 1s and 7d, got '8d'",
        ),
        (
            {"throttle": Throttle(limit=1, period="500ms")},
            "throttle= period: must be between 1s and 7d, got '500ms'",
        ),
        ({"throttle": Throttle(limit=1, period="soon")}, "throttle= period: invalid duration"),
        (
            {"throttle": Throttle(limit=1, period="1s", key="((")},
            "throttle= key: invalid expression '(('",
        ),
        # rate_limit
        ({"rate_limit": Throttle(limit=1, period="1s")}, "rate_limit=: expected RateLimit(...)"),
        ({"rate_limit": RateLimit(limit=0, period="1m")}, "rate_limit= limit: must be at least 1"),
        (
            {"rate_limit": RateLimit(limit=1, period="25h")},
            "rate_limit= period: must be between 1s and 1d, got '25h'",
        ),
        (
            {"rate_limit": RateLimit(limit=1, period=dt.timedelta(0))},
            "rate_limit= period: invalid duration",
        ),
        (
            {"rate_limit": RateLimit(limit=1, period="1m", key="a b")},
            "rate_limit= key: invalid expression 'a b'",
        ),
        # debounce
        ({"debounce": "5s"}, "debounce=: expected Debounce(...), got '5s'"),
        (
            {"debounce": Debounce(period="0.5s")},
            "debounce= period: must be between 1s and 7d, got '0.5s'",
        ),
        (
            {"debounce": Debounce(period="8d")},
            "debounce= period: must be between 1s and 7d, got '8d'",
        ),
        (
            {"debounce": Debounce(period="5s", timeout="100ms")},
            "debounce= timeout: must be at least 1s, got '100ms'",
        ),
        (
            {"debounce": Debounce(period="5s", key="event.data.")},
            "debounce= key: invalid expression",
        ),
        # batch_events
        ({"batch_events": 10}, "batch_events=: expected Batch(...), got 10"),
        (
            {"batch_events": Batch(max_size=1, timeout="5s")},
            "batch_events= max_size: must be 2..100, got 1",
        ),
        (
            {"batch_events": Batch(max_size=101, timeout="5s")},
            "batch_events= max_size: must be 2..100, got 101",
        ),
        (
            {"batch_events": Batch(max_size=10, timeout="999ms")},
            "batch_events= timeout: must be at least 1s, got '999ms'",
        ),
        (
            {"batch_events": Batch(max_size=10, timeout="5s", key="((")},
            "batch_events= key: invalid expression",
        ),
        (
            {"batch_events": Batch(max_size=10, timeout="5s", if_="event.data. > 1")},
            "batch_events= if_: invalid expression",
        ),
        # cancel_on
        ({"cancel_on": 3}, "cancel_on=: expected an event name or Cancel(...), got 3"),
        ({"cancel_on": [f"a/{n}" for n in range(6)]}, "cancel_on=: at most 5 cancellation events"),
        ({"cancel_on": ""}, "cancel_on= event: must be a non-empty event name, got ''"),
        (
            {"cancel_on": Cancel(event="a/b", match="data.id", if_="true")},
            "cancel_on=: give match= or if_=, not both",
        ),
        (
            {"cancel_on": Cancel(event="a/b", match=" ")},
            "cancel_on= match: must be a field path such as 'data.user_id', got ' '",
        ),
        (
            {"cancel_on": Cancel(event="a/b", match="cart_id")},
            "cancel_on= match: 'cart_id' is no field of an event (a path starts at the event: "
            "data, id, name, ts, user, v); did you mean 'data.cart_id'?",
        ),
        ({"cancel_on": Cancel(event="a/b", match="data.")}, "cancel_on= match: invalid expression"),
        ({"cancel_on": Cancel(event="a/b", if_="a ==")}, "cancel_on= if_: invalid expression"),
        (
            {"cancel_on": ["a/b", Cancel(event="c/d", timeout="0s")]},
            "cancel_on=[1] timeout: invalid duration '0s'",
        ),
        # priority, idempotency
        ({"priority": 10}, "priority=: expected an expression or Priority(run=...), got 10"),
        ({"priority": Priority(run="")}, "priority= run: an expression must be a non-empty"),
        ({"priority": "event.data."}, "priority= run: invalid expression"),
        ({"idempotency": 1}, "idempotency=: expected an expression, got 1"),
        ({"idempotency": "event.data.id +"}, "idempotency=: invalid expression"),
        # timeouts
        ({"timeouts": "1h"}, "timeouts=: expected Timeouts(...), got '1h'"),
        ({"timeouts": Timeouts()}, "timeouts=: give start=, finish= or both"),
        ({"timeouts": Timeouts(start="0.1s")}, "timeouts= start: must be at least 1s"),
        ({"timeouts": Timeouts(finish="later")}, "timeouts= finish: invalid duration"),
        # singleton
        ({"singleton": "skip"}, "singleton=: expected Singleton(...), got 'skip'"),
        (
            {"singleton": Singleton(mode="queue")},  # type: ignore[arg-type]
            "singleton= mode: must be 'skip' or 'cancel', got 'queue'",
        ),
        ({"singleton": Singleton(mode="skip", key="((")}, "singleton= key: invalid expression"),
    ],
)
def test_option_problem(keywords: dict[str, Any], problem: str) -> None:
    problems = _problems(**keywords)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems[0]


@pytest.mark.parametrize(
    ("keyword", "value", "reason"),
    [
        ("cancel_on", "shop/cart.emptied", "batching and cancellation are mutually exclusive"),
        ("debounce", Debounce(period="5s"), "batching and debouncing are mutually exclusive"),
        ("singleton", Singleton(mode="skip"), "batching and singleton runs are mutually exclusive"),
        ("priority", "event.data.p", "a batch has no single event to compute a priority from"),
    ],
)
def test_batching_excludes(keyword: str, value: Any, reason: str) -> None:
    problems = _problems(batch_events=Batch(max_size=10, timeout="5s"), **{keyword: value})
    assert problems == (f"batch_events= cannot be combined with {keyword}=: {reason}",)


def test_every_option_problem_is_reported_at_once() -> None:
    problems = _problems(
        concurrency=-1,
        throttle=Throttle(limit=0, period="1s"),
        rate_limit=RateLimit(limit=1, period="2d"),
        debounce=Debounce(period="8d"),
        cancel_on=Cancel(event=""),
        priority=Priority(run="(("),
        idempotency="((",
        timeouts=Timeouts(),
        singleton=Singleton(mode="x"),  # type: ignore[arg-type]
        retries=99,
    )
    keywords = [problem.split("=", 1)[0] for problem in problems]
    assert keywords == [
        "retries",
        "concurrency",
        "rate_limit",
        "throttle",
        "debounce",
        "cancel_on",
        "priority",
        "idempotency",
        "timeouts",
        "singleton",
    ]


def test_abstract_bases_take_no_options() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Base(
            InngestFunction,
            abstract=True,
            retries=2,
            concurrency=2,
            throttle=Throttle(limit=1, period="1s"),
        ):
            pass

    assert caught.value.problems == (
        "abstract=True bases take no function options, got retries=, concurrency=, "
        "throttle=: options belong to the concrete class",
    )


def test_options_are_not_inherited() -> None:
    class Base(InngestFunction, abstract=True):
        @step("work")
        def work(self, ctx: Context) -> None: ...

    class Limited(Base, event="a/b", concurrency=1):
        pass

    class Free(Base, event="a/c"):
        pass

    assert spec_of(Limited).concurrency == (Concurrency(limit=1),)
    assert spec_of(Free).concurrency == ()


# ---------------------------------------------------------------------------------------------
# One table of options


def test_the_typed_class_keywords_are_the_table_of_options() -> None:
    import inspect

    signature = inspect.signature(InngestFunction.__init_subclass__)
    keywords = [name for name in signature.parameters if name in OPTION_KEYWORDS]
    assert sorted(keywords) == sorted(OPTION_KEYWORDS)


def test_the_dev_server_reads_back_what_the_registration_writes() -> None:
    from inngest_dsl.spec._options import FunctionOptions
    from inngest_dsl.wire._json import to_json
    from inngest_dsl.wire._options import options_from_wire
    from inngest_dsl.wire._registration import function_config

    cls = _define(
        concurrency=[3, Concurrency(limit=1, key="event.data.user", scope="env")],
        throttle=Throttle(limit=5, period="1h30m", burst=2),
        rate_limit=RateLimit(limit=10, period="1m"),
        debounce=Debounce(period="5s", timeout="1m"),
        cancel_on=Cancel(event="shop/x", match="data.id", timeout="2d"),
        priority="event.data.priority",
        idempotency="event.data.order_id",
        timeouts=Timeouts(start="1m"),
        singleton=Singleton(mode="cancel", key="event.data.user"),
    )
    spec = spec_of(cls)
    config = to_json(function_config(spec, "shop", "http://localhost/api"))
    assert config["throttle"] == {"limit": 5, "period": "1h30m", "burst": 2}
    read = options_from_wire(config)
    assert read == FunctionOptions(**{name: getattr(spec, name) for name in OPTION_KEYWORDS})
    batched = spec_of(_define(batch_events=Batch(max_size=5, timeout="2d")))
    batch_config = to_json(function_config(batched, "shop", "http://localhost/api"))
    assert batch_config["batchEvents"] == {"maxSize": 5, "timeout": "48h"}
    assert options_from_wire(batch_config).batch_events == batched.batch_events
