"""Several triggers per function and cron jitter: the class keywords and the registration."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
import pytest

from inngest_dsl import CronTrigger, DefinitionError, EventTrigger, InngestFunction, spec_of
from inngest_dsl.wire._json import to_json
from inngest_dsl.wire._registration import function_config

URL = "http://127.0.0.1:3000/api/inngest"
official = inngest.Inngest(app_id="shop", is_production=False)


def _official(**options: Any) -> Any:
    @official.create_function(**options)
    async def fn(ctx: inngest.Context) -> None:
        return None

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(fn.get_config(URL).main.to_dict())


class TwoEvents(InngestFunction, id="two-events", event=["shop/a", "shop/b"]):
    pass


class Listed(
    InngestFunction,
    id="listed",
    triggers=[
        EventTrigger("shop/order.paid", expression="event.data.total > 100"),
        EventTrigger("shop/order.*"),
        CronTrigger("TZ=Europe/Paris 0 9 * * *", jitter="30s"),
        CronTrigger("0 18 * * FRI"),
    ],
):
    pass


class CronsWithJitter(
    InngestFunction, id="crons", cron=["0 9 * * *", "0 21 * * *"], jitter=dt.timedelta(minutes=2)
):
    pass


class EventAndCron(InngestFunction, id="event-and-cron", event="shop/a", cron="0 * * * *"):
    pass


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            TwoEvents,
            {
                "fn_id": "two-events",
                "name": "TwoEvents",
                "trigger": [
                    inngest.TriggerEvent(event="shop/a"),
                    inngest.TriggerEvent(event="shop/b"),
                ],
            },
        ),
        (
            Listed,
            {
                "fn_id": "listed",
                "name": "Listed",
                "trigger": [
                    inngest.TriggerEvent(
                        event="shop/order.paid", expression="event.data.total > 100"
                    ),
                    inngest.TriggerEvent(event="shop/order.*"),
                    inngest.TriggerCron(cron="TZ=Europe/Paris 0 9 * * *", jitter="30s"),
                    inngest.TriggerCron(cron="0 18 * * FRI"),
                ],
            },
        ),
        (
            CronsWithJitter,
            {
                "fn_id": "crons",
                "name": "CronsWithJitter",
                "trigger": [
                    inngest.TriggerCron(cron="0 9 * * *", jitter="2m"),
                    inngest.TriggerCron(cron="0 21 * * *", jitter="2m"),
                ],
            },
        ),
        (
            EventAndCron,
            {
                "fn_id": "event-and-cron",
                "name": "EventAndCron",
                "trigger": [
                    inngest.TriggerEvent(event="shop/a"),
                    inngest.TriggerCron(cron="0 * * * *"),
                ],
            },
        ),
    ],
    ids=["two-events", "listed", "crons-jitter", "event-and-cron"],
)
def test_triggers_match_official_sdk(ours: type, theirs: dict[str, Any]) -> None:
    assert to_json(function_config(spec_of(ours), "shop", URL)) == _official(**theirs)


def test_triggers_golden_json() -> None:
    assert to_json(function_config(spec_of(Listed), "shop", URL))["triggers"] == [
        {"event": "shop/order.paid", "expression": "event.data.total > 100"},
        {"event": "shop/order.*"},
        {"cron": "TZ=Europe/Paris 0 9 * * *", "jitter": "30s"},
        {"cron": "0 18 * * FRI"},
    ]


def test_spec_holds_jitter_as_timedelta() -> None:
    assert spec_of(Listed).triggers[2] == CronTrigger(
        "TZ=Europe/Paris 0 9 * * *", jitter=dt.timedelta(seconds=30)
    )
    assert spec_of(TwoEvents).triggers == (EventTrigger("shop/a"), EventTrigger("shop/b"))


def test_expression_applies_to_each_event_of_the_list() -> None:
    class Big(InngestFunction, event=["shop/a", "shop/b"], expression="event.data.n > 1"):
        pass

    assert [t.expression for t in spec_of(Big).triggers] == ["event.data.n > 1"] * 2


def test_same_event_with_two_expressions_is_not_a_duplicate() -> None:
    class Both(
        InngestFunction,
        triggers=[
            EventTrigger("shop/a", expression="event.data.n > 1"),
            EventTrigger("shop/a", expression="event.data.n < 0"),
        ],
    ):
        pass

    assert len(spec_of(Both).triggers) == 2


def test_every_trigger_problem_is_reported_at_once() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Bad(
            InngestFunction,
            triggers=[
                EventTrigger("shop/a", expression="event.data.x >"),
                EventTrigger(""),
                CronTrigger("61 * * * *"),
                CronTrigger("0 9 * * *", jitter="1h"),
                CronTrigger("0 9 * * *"),
            ],
        ):
            pass

    text = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 4, text
    assert "expression= of 'shop/a'" in text
    assert "trigger 2 must be a non-empty event name" in text
    assert "61 * * * *" in text
    assert "between 1s and 5m" in text


def test_abstract_bases_take_no_triggers_keyword() -> None:
    with pytest.raises(DefinitionError, match="triggers="):

        class Base(InngestFunction, abstract=True, triggers=[EventTrigger("a/b")]):
            pass
