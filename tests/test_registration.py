"""Registration configs, compared field for field with the official Python SDK's."""

from __future__ import annotations

from typing import Any

import inngest
import pytest

from inngest_dsl import Context, InngestFunction, spec_of, step
from inngest_dsl._wire import function_config, to_json

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
