"""Registration configs, compared field for field with the official Python SDK's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
import pytest

from inngest_dsl import (
    Batch,
    Cancel,
    Concurrency,
    Context,
    Debounce,
    Failure,
    InngestFunction,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
    Timeouts,
    failure_spec,
    on_failure,
    spec_of,
    step,
)
from inngest_dsl.spec._durations import parse_duration
from inngest_dsl.spec._function import EventTrigger
from inngest_dsl.wire._json import to_json
from inngest_dsl.wire._registration import function_config

URL = "http://127.0.0.1:3000/api/inngest"
official = inngest.Inngest(app_id="shop", is_production=False)


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _official(**options: Any) -> dict[str, Any]:
    @official.create_function(**options)
    async def fn(ctx: inngest.Context) -> None:
        return None

    config: dict[str, Any] = fn.get_config(URL).main.to_dict()
    return dict(_strip_nulls(config))


class SignUp(InngestFunction, name="Sign-up flow", id="sign-up", event="auth/signup", retries=3):
    @step("send welcome")
    def send_welcome(self, ctx: Context) -> None: ...


class Filtered(
    InngestFunction, id="filtered", event="app/order", expression="event.data.total > 10"
):
    pass


class Digest(InngestFunction, id="digest", cron="TZ=Europe/Paris 0 9 * * *", retries=0):
    pass


class Named(InngestFunction, name="App / Email: Awesome Event Func", event_name="app/email"):
    pass


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            SignUp,
            {
                "fn_id": "sign-up",
                "name": "Sign-up flow",
                "trigger": inngest.TriggerEvent(event="auth/signup"),
                "retries": 3,
            },
        ),
        (
            Filtered,
            {
                "fn_id": "filtered",
                "name": "Filtered",
                "trigger": inngest.TriggerEvent(
                    event="app/order", expression="event.data.total > 10"
                ),
            },
        ),
        (
            Digest,
            {
                "fn_id": "digest",
                "name": "Digest",
                "trigger": inngest.TriggerCron(cron="TZ=Europe/Paris 0 9 * * *"),
                "retries": 0,
            },
        ),
        (
            Named,
            {
                "fn_id": "app-email-awesome-event-func",
                "name": "App / Email: Awesome Event Func",
                "trigger": inngest.TriggerEvent(event="app/email"),
            },
        ),
    ],
    ids=["event-retries", "expression", "cron-tz", "slugged-name"],
)
def test_config_matches_official_sdk(ours: type, theirs: dict[str, Any]) -> None:
    assert to_json(function_config(spec_of(ours), "shop", URL)) == _official(**theirs)


def test_config_golden_json() -> None:
    assert to_json(function_config(spec_of(SignUp), "shop", URL)) == {
        "id": "shop-sign-up",
        "name": "Sign-up flow",
        "triggers": [{"event": "auth/signup"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {
                    "type": "http",
                    "url": "http://127.0.0.1:3000/api/inngest?fnId=shop-sign-up&stepId=step",
                },
                "retries": {"attempts": 3},
            }
        },
    }


def test_step_url_keeps_existing_query() -> None:
    config = function_config(spec_of(Digest), "shop", "http://h/api/inngest?x=1")
    assert config.steps["step"].runtime.url == "http://h/api/inngest?x=1&fnId=shop-digest&stepId=step"


# ---------------------------------------------------------------------------------------------
# Function options: for each option, our config equals the official SDK's for the same option.

_DURATION_KEYS = frozenset({"period", "timeout", "start", "finish"})


def _normalised(value: Any, key: str = "") -> Any:
    """Equal configs compare equal: only encodings that mean the same thing are unified.

    - Durations: the official SDK writes the largest unit that divides evenly ("90m", "1w");
      we write mixed units ("1h30m", "7d"). Both are the same time string to the server, so
      both sides are compared as timedeltas.
    - Empty lists: the official SDK sends `cancel: []` / `concurrency: []` on failure
      handlers; an empty list and an absent key both mean "none".
    """
    if isinstance(value, dict):
        return {
            k: _normalised(v, k) for k, v in value.items() if v is not None and v != []
        }
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if key in _DURATION_KEYS and isinstance(value, str):
        return parse_duration(value)
    return value


def _official_options(**options: Any) -> dict[str, Any]:
    @official.create_function(
        fn_id="checkout",
        name="Checkout",
        trigger=inngest.TriggerEvent(event="shop/checkout"),
        **options,
    )
    async def fn(ctx: inngest.Context) -> None:
        return None

    return dict(_normalised(fn.get_config(URL).main.to_dict()))


def _ours(**options: Any) -> dict[str, Any]:
    class Checkout(InngestFunction, event="shop/checkout", **options):
        pass

    config = to_json(function_config(spec_of(Checkout), "shop", URL))
    return dict(_normalised(config))


_KEY = "event.data.user_id"

OPTION_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("concurrency-int", {"concurrency": 2}, {"concurrency": [inngest.Concurrency(limit=2)]}),
    (
        "concurrency-keyed",
        {"concurrency": Concurrency(limit=3, key=_KEY, scope="account")},
        {"concurrency": [inngest.Concurrency(limit=3, key=_KEY, scope="account")]},
    ),
    (
        "concurrency-two",
        {"concurrency": [Concurrency(limit=10), Concurrency(limit=1, key=_KEY, scope="fn")]},
        {
            "concurrency": [
                inngest.Concurrency(limit=10),
                inngest.Concurrency(limit=1, key=_KEY, scope="fn"),
            ]
        },
    ),
    (
        "throttle",
        {"throttle": Throttle(limit=5, period="1h30m", burst=2, key=_KEY)},
        {"throttle": inngest.Throttle(limit=5, period=dt.timedelta(minutes=90), burst=2, key=_KEY)},
    ),
    (
        "throttle-default-burst",
        {"throttle": Throttle(limit=1, period=dt.timedelta(days=7))},
        {"throttle": inngest.Throttle(limit=1, period=dt.timedelta(days=7))},
    ),
    (
        "rate-limit",
        {"rate_limit": RateLimit(limit=10, period="1m", key=_KEY)},
        {"rate_limit": inngest.RateLimit(limit=10, period=dt.timedelta(minutes=1), key=_KEY)},
    ),
    (
        "debounce",
        {"debounce": Debounce(period="5s", key=_KEY, timeout="1m")},
        {
            "debounce": inngest.Debounce(
                period=dt.timedelta(seconds=5), key=_KEY, timeout=dt.timedelta(minutes=1)
            )
        },
    ),
    (
        "batch",
        {"batch_events": Batch(max_size=10, timeout="5s", key=_KEY, if_="event.data.n > 1")},
        {
            "batch_events": inngest.Batch(
                max_size=10, timeout=dt.timedelta(seconds=5), key=_KEY, if_exp="event.data.n > 1"
            )
        },
    ),
    (
        "cancel-match",
        {"cancel_on": Cancel(event="shop/cart.emptied", match="data.cart_id", timeout="1h")},
        {
            "cancel": [
                inngest.Cancel(
                    event="shop/cart.emptied",
                    if_exp="event.data.cart_id == async.data.cart_id",
                    timeout=dt.timedelta(hours=1),
                )
            ]
        },
    ),
    (
        "cancel-names-and-if",
        {"cancel_on": ["shop/cart.emptied", Cancel(event="shop/user.deleted", if_="true")]},
        {
            "cancel": [
                inngest.Cancel(event="shop/cart.emptied"),
                inngest.Cancel(event="shop/user.deleted", if_exp="true"),
            ]
        },
    ),
    (
        "priority-expression",
        {"priority": "event.data.priority"},
        {"priority": inngest.Priority(run="event.data.priority")},
    ),
    (
        "priority-object",
        {"priority": Priority(run="event.data.vip ? 120 : 0")},
        {"priority": inngest.Priority(run="event.data.vip ? 120 : 0")},
    ),
    ("idempotency", {"idempotency": "event.data.order_id"}, {"idempotency": "event.data.order_id"}),
    (
        "timeouts",
        {"timeouts": Timeouts(start="1m", finish="1h")},
        {
            "timeouts": inngest.Timeouts(
                start=dt.timedelta(minutes=1), finish=dt.timedelta(hours=1)
            )
        },
    ),
    (
        "timeouts-finish-only",
        {"timeouts": Timeouts(finish="1.5d")},
        {"timeouts": inngest.Timeouts(finish=dt.timedelta(hours=36))},
    ),
    (
        "singleton",
        {"singleton": Singleton(mode="cancel", key=_KEY)},
        {"singleton": inngest.Singleton(mode="cancel", key=_KEY)},
    ),
    (
        "all-compatible",
        {
            "concurrency": 2,
            "throttle": Throttle(limit=5, period="10s"),
            "rate_limit": RateLimit(limit=10, period="1m"),
            "debounce": Debounce(period="5s"),
            "cancel_on": Cancel(event="shop/cart.emptied", match="data.cart_id"),
            "priority": "event.data.priority",
            "idempotency": "event.data.order_id",
            "timeouts": Timeouts(start="1m", finish="1h"),
            "singleton": Singleton(mode="skip"),
        },
        {
            "concurrency": [inngest.Concurrency(limit=2)],
            "throttle": inngest.Throttle(limit=5, period=dt.timedelta(seconds=10)),
            "rate_limit": inngest.RateLimit(limit=10, period=dt.timedelta(minutes=1)),
            "debounce": inngest.Debounce(period=dt.timedelta(seconds=5)),
            "cancel": [
                inngest.Cancel(
                    event="shop/cart.emptied", if_exp="event.data.cart_id == async.data.cart_id"
                )
            ],
            "priority": inngest.Priority(run="event.data.priority"),
            "idempotency": "event.data.order_id",
            "timeouts": inngest.Timeouts(
                start=dt.timedelta(minutes=1), finish=dt.timedelta(hours=1)
            ),
            "singleton": inngest.Singleton(mode="skip"),
        },
    ),
]


@pytest.mark.parametrize(
    ("ours", "theirs"), [(o, t) for _, o, t in OPTION_CASES], ids=[c[0] for c in OPTION_CASES]
)
def test_option_config_matches_official_sdk(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    mine = _ours(**ours)
    assert mine == _official_options(**theirs)
    assert mine != _ours()  # the option really is in the config


def test_option_wire_keys_golden_json() -> None:
    class Checkout(
        InngestFunction,
        event="shop/checkout",
        concurrency=Concurrency(limit=2, key=_KEY, scope="env"),
        throttle=Throttle(limit=5, period="1h30m"),
        rate_limit=RateLimit(limit=10, period="1m", key=_KEY),
        debounce=Debounce(period="5s", timeout="1m"),
        cancel_on=Cancel(event="shop/cart.emptied", match="data.cart_id", timeout="1h"),
        priority="event.data.priority",
        idempotency="event.data.order_id",
        timeouts=Timeouts(start="1m"),
        singleton=Singleton(mode="skip", key=_KEY),
    ):
        pass

    config = to_json(function_config(spec_of(Checkout), "shop", URL))
    del config["steps"]
    assert config == {
        "id": "shop-checkout",
        "name": "Checkout",
        "triggers": [{"event": "shop/checkout"}],
        "concurrency": [{"limit": 2, "key": _KEY, "scope": "env"}],
        "throttle": {"limit": 5, "period": "1h30m", "burst": 1},
        "rateLimit": {"limit": 10, "period": "1m", "key": _KEY},
        "debounce": {"period": "5s", "timeout": "1m"},
        "cancel": [
            {
                "event": "shop/cart.emptied",
                "if": "event.data.cart_id == async.data.cart_id",
                "timeout": "1h",
            }
        ],
        "priority": {"run": "event.data.priority"},
        "idempotency": "event.data.order_id",
        "timeouts": {"start": "1m"},
        "singleton": {"mode": "skip", "key": _KEY},
    }


@pytest.mark.parametrize(
    ("timeout", "wire"),
    [
        ("5s", "5s"),
        ("1h30m", "1h30m"),
        ("1d", "24h"),
        (dt.timedelta(days=2, seconds=90), "48h1m30s"),
    ],
)
def test_batch_timeout_has_no_day_units(timeout: Any, wire: str) -> None:
    # batchEvents.timeout is read with Go's time.ParseDuration, which knows no "d" or "w".
    class Batched(
        InngestFunction, event="shop/item", batch_events=Batch(max_size=5, timeout=timeout)
    ):
        pass

    config = to_json(function_config(spec_of(Batched), "shop", URL))
    assert config["batchEvents"] == {"maxSize": 5, "timeout": wire}


# ---------------------------------------------------------------------------------------------
# The failure handler's companion function


class Charge(InngestFunction, id="charge", name="Charge card", event="shop/charge", retries=2):
    @step("charge")
    def charge(self, ctx: Context) -> None: ...

    @on_failure
    async def alert(self, ctx: Context, failure: Failure) -> None: ...


def test_failure_companion_matches_official_sdk() -> None:
    async def alert(ctx: inngest.Context) -> None:
        return None

    @official.create_function(
        fn_id="charge",
        name="Charge card",
        trigger=inngest.TriggerEvent(event="shop/charge"),
        retries=2,
        on_failure=alert,
    )
    async def fn(ctx: inngest.Context) -> None:
        return None

    theirs = fn.get_config(URL)
    assert theirs.on_failure is not None
    main = to_json(function_config(spec_of(Charge), "shop", URL))
    companion = to_json(function_config(failure_spec(Charge, "shop"), "shop", URL))
    assert main == _normalised(theirs.main.to_dict())
    assert companion == _normalised(theirs.on_failure.to_dict())
    assert companion["id"] == "shop-charge-failure"
    assert companion["triggers"] == [
        {
            "event": "inngest/function.failed",
            "expression": "event.data.function_id == 'shop-charge'",
        }
    ]


def test_failure_companion_without_app_id_watches_the_local_id() -> None:
    companion = failure_spec(spec_of(Charge))
    assert companion.id == "charge-failure"
    assert companion.retries == 0
    assert companion.triggers[0] == EventTrigger(
        event="inngest/function.failed", expression="event.data.function_id == 'charge'"
    )
