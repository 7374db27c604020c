"""The class-declaration DSL: recording order, validation, inheritance, ids."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    DefinitionError,
    InngestFunction,
    run,
    send_event,
    sleep,
    sleep_until,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.dsl._compile import slugify
from inngest_dsl.spec._function import (
    CronTrigger,
    EventTrigger,
    RunOp,
    SleepOp,
    SleepUntilOp,
    StepOp,
    WaitForEventOp,
)
from inngest_dsl.testing import run_function_sync


def _kinds(cls: type) -> list[tuple[str, str]]:
    return [(type(op).__name__, op.id) for op in spec_of(cls).ops]


def test_blocks_recorded_in_declaration_order_between_methods_and_attributes() -> None:
    class Flow(InngestFunction, name="Flow", event="app/flow"):
        colour = "blue"

        @run("first")
        def first(self, ctx: Context) -> None: ...

        def helper(self) -> int:
            return 1

        @step("second")
        async def second(self, ctx: Context) -> dict[str, int]:
            return {"n": self.helper()}

        limit = 3
        sleep("1h30m")
        confirmed = wait_for_event("app/confirmed", timeout="1d", match="data.id")

        @sleep_until("until computed")
        def until(self, ctx: Context) -> dt.datetime:
            return dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)

        sleep_until("until literal", at="2030-01-02")

        @step("last")
        def last(self, ctx: Context) -> None: ...

    assert _kinds(Flow) == [
        ("RunOp", "first"),
        ("StepOp", "second"),
        ("SleepOp", "sleep 1h30m"),
        ("WaitForEventOp", "app/confirmed"),
        ("SleepUntilOp", "until computed"),
        ("SleepUntilOp", "until literal"),
        ("StepOp", "last"),
    ]
    # Ordinary attributes and methods stay what they were.
    assert Flow.colour == "blue"
    assert Flow.limit == 3
    assert Flow().helper() == 1
    assert isinstance(Flow.confirmed, WaitForEventOp)


def test_spec_contents() -> None:
    class SignUp(InngestFunction, name="Sign-up flow", event="auth/signup", retries=3):
        """Welcome a new user."""

        @step("send welcome")
        def send_welcome(self, ctx: Context) -> None: ...

        sleep(dt.timedelta(hours=1))
        confirmed = wait_for_event(
            "auth/signup.confirmed", timeout="1d", match="data.user_id"
        )

    spec = spec_of(SignUp)
    assert spec.id == "sign-up-flow"
    assert spec.name == "Sign-up flow"
    assert spec.retries == 3
    assert spec.description == "Welcome a new user."
    assert spec.triggers == (EventTrigger(event="auth/signup"),)
    assert spec.composite_id("shop") == "shop-sign-up-flow"
    step_op, sleep_op, wait_op = spec.ops
    assert isinstance(step_op, StepOp)
    assert step_op.body is SignUp.__dict__["send_welcome"]
    assert sleep_op == SleepOp(id="sleep 1h", duration=dt.timedelta(hours=1))
    assert wait_op == WaitForEventOp(
        id="auth/signup.confirmed",
        event="auth/signup.confirmed",
        timeout=dt.timedelta(days=1),
        if_="event.data.user_id == async.data.user_id",
    )
    assert SignUp.confirmed is wait_op


def test_cron_trigger_and_event_name_spelling() -> None:
    class Digest(InngestFunction, cron="TZ=Europe/Paris 0 9 * * *"):
        pass

    class Seeded(InngestFunction, event_name="app/seed", if_="event.data.n > 1", id="seeded"):
        pass

    assert spec_of(Digest).triggers == (CronTrigger(cron="TZ=Europe/Paris 0 9 * * *"),)
    assert spec_of(Digest).id == "digest"
    assert spec_of(Digest).name == "Digest"
    assert spec_of(Seeded).triggers == (
        EventTrigger(event="app/seed", expression="event.data.n > 1"),
    )
    assert spec_of(Seeded).id == "seeded"


def test_wait_with_explicit_if_and_id() -> None:
    class Waits(InngestFunction, event="a/b"):
        first = wait_for_event("a/c", timeout="5m", if_="async.data.ok == true", id="approval")
        second = wait_for_event("a/c", timeout=dt.timedelta(minutes=5))

    assert [op.id for op in spec_of(Waits).ops] == ["approval", "a/c"]
    assert Waits.first.if_ == "async.data.ok == true"
    assert Waits.second.if_ is None


def test_sleep_until_literal_is_normalised_to_utc() -> None:
    class Launch(InngestFunction, event="a/b"):
        sleep_until("launch", at="Mon, 02 Jan 2006 15:04:05 -0700")

    (op,) = spec_of(Launch).ops
    assert isinstance(op, SleepUntilOp)
    assert op.at == dt.datetime(2006, 1, 2, 22, 4, 5, tzinfo=dt.timezone.utc)


def test_all_problems_reported_together() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Broken(InngestFunction, event="a/b", event_name="a/c", retries=99):
            @step("same")
            def one(self, ctx: Context) -> None: ...

            @step("same")
            def two(self, ctx: Context) -> None: ...

            sleep("10 parsecs")
            wait_for_event("a/d")
            wait_for_event("a/e", timeout="1h", match="data.x", if_="true")
            sleep_until("never", at="next tuesday")
            step("dangling")

    error = caught.value
    assert isinstance(error, TypeError)
    assert error.owner.endswith("Broken")
    text = str(error)
    expected = [
        "event= or event_name=",
        "retries= must be between 0 and 20, got 99",
        "duplicate block id 'same' (2 blocks)",
        "sleep: ",
        "10 parsecs",
        "wait_for_event 'a/d': timeout= is required",
        "wait_for_event 'a/e': give match= or if_=, not both",
        "sleep_until 'never'",
        "step 'dangling'",
        "must decorate its method",
    ]
    for fragment in expected:
        assert fragment in text, fragment
    assert len(error.problems) == 8
    assert text.startswith("test_all_problems_reported_together.<locals>.Broken: 8 problems:")


@pytest.mark.parametrize(
    ("keywords", "fragment"),
    [
        ({}, "no trigger"),
        ({"event": ["a/b", "a/b"]}, "duplicate trigger event='a/b'"),
        ({"cron": ["0 9 * * *", "0 9 * * *"]}, "duplicate trigger cron="),
        ({"event": [f"a/{n}" for n in range(11)]}, "at most 10 triggers"),
        ({"event": "a/b", "cron": [f"{n} 9 * * *" for n in range(10)]}, "at most 10 triggers"),
        ({"cron": "* * * * *", "jitter": "10m"}, "between 1s and 5m"),
        ({"cron": "* * * * *", "jitter": "soon"}, "jitter= of cron"),
        ({"event": "a/b", "jitter": "30s"}, "give cron= too"),
        ({"event": []}, "event= must be a string or a list"),
        ({"triggers": []}, "at least one trigger"),
        ({"triggers": ["a/b"]}, "expected EventTrigger or CronTrigger"),
        ({"cron": "61 * * * *"}, "61 * * * *"),
        ({"cron": "@daily"}, "@daily"),
        ({"cron": "TZ=Mars/Olympus 0 9 * * *"}, "Mars/Olympus"),
        ({"cron": "* * * * *", "expression": "true"}, "give event= too"),
        ({"event": ""}, "non-empty event name"),
        ({"event": "a/b", "expression": "event.data.x >"}, "syntax error"),
        ({"event": "a/b", "expression": "true", "if_": "true"}, "expression= or if_="),
        ({"event": "a/b", "retries": -1}, "between 0 and 20"),
        ({"event": "a/b", "retries": True}, "whole number"),
        ({"event": "a/b", "name": ""}, "name= must be a non-empty string"),
        ({"event": "a/b", "id": "  "}, "id= must be"),
        ({"abstract": True, "event": "a/b"}, "abstract=True bases take no trigger"),
    ],
)
def test_keyword_validation(keywords: dict[str, Any], fragment: str) -> None:
    with pytest.raises(DefinitionError, match="Bad") as caught:
        type("Bad", (InngestFunction,), {}, **keywords)
    assert fragment in str(caught.value)


def test_wait_match_must_be_a_path_and_if_must_parse() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Bad(InngestFunction, event="a/b"):
            wait_for_event("a/c", timeout="1h", match="")
            wait_for_event("a/d", timeout="1h", if_="async.data.x ==")

    assert "match= must be a field path" in str(caught.value)
    assert "wait_for_event 'a/d': invalid expression" in str(caught.value)


def test_step_without_message_and_non_callable_body() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Bad(InngestFunction, event="a/b"):
            @step  # type: ignore[arg-type]
            def forgot(self, ctx: Context) -> None: ...

            holder = step("not a function")(42)  # type: ignore[type-var]

    text = str(caught.value)
    assert 'give the block a message, as in @step("send welcome")' in text
    assert "step 'not a function': the decorated object is not callable: 42" in text


@pytest.mark.parametrize(
    "call",
    [
        lambda: step("x"),
        lambda: run("x"),
        lambda: sleep("1s"),
        lambda: sleep_until("x", at="2030-01-01"),
        lambda: wait_for_event("a/b", timeout="1s"),
    ],
)
def test_verbs_outside_a_class_body(call: Any) -> None:
    with pytest.raises(DefinitionError, match="can only be called in the body of an Inngest"):
        call()


def test_verbs_in_an_unrelated_class_body() -> None:
    with pytest.raises(DefinitionError, match="step\\(\\) can only be called"):

        class NotAFunction:
            @step("x")
            def x(self, ctx: Context) -> None: ...


def test_abstract_bases_contribute_blocks_first() -> None:
    class Audited(InngestFunction, abstract=True):
        @run("audit start")
        def audit(self, ctx: Context) -> None: ...

    class Timed(Audited, abstract=True):
        sleep("1s")

    class Concrete(Timed, event="a/b"):
        @step("work")
        def work(self, ctx: Context) -> None: ...

    with pytest.raises(TypeError, match="abstract"):
        spec_of(Audited)
    assert _kinds(Concrete) == [
        ("RunOp", "audit start"),
        ("SleepOp", "sleep 1s"),
        ("StepOp", "work"),
    ]
    assert isinstance(spec_of(Concrete).ops[0], RunOp)


def test_duplicate_ids_across_inheritance() -> None:
    class Base(InngestFunction, abstract=True):
        @step("work")
        def work(self, ctx: Context) -> None: ...

    with pytest.raises(DefinitionError, match="duplicate block id 'work'"):

        class Child(Base, event="a/b"):
            @step("work")
            def again(self, ctx: Context) -> None: ...


def test_function_with_trigger_is_final() -> None:
    class Final(InngestFunction, event="a/b"):
        pass

    with pytest.raises(DefinitionError, match=r"cannot subclass .*Final: a function with a trig"):

        class Child(Final, event="a/c"):
            pass


def test_repeated_automatic_sleep_ids_are_allowed() -> None:
    class Naps(InngestFunction, event="a/b"):
        sleep("1s")
        sleep("1s")
        sleep("2s", id="long nap")

    assert [op.id for op in spec_of(Naps).ops] == ["sleep 1s", "sleep 1s", "long nap"]


def test_spec_is_frozen() -> None:
    class Frozen(InngestFunction, event="a/b"):
        pass

    spec = spec_of(Frozen)
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("App / Email: Awesome Event Func", "app-email-awesome-event-func"),
        ("Sign-up flow", "sign-up-flow"),
        ("  spaced   out  ", "spaced-out"),
        ("Ünïcode & Symbols!!", "n-code-symbols"),
        ("already-a-slug", "already-a-slug"),
        ("v2.Import_Job", "v2-import-job"),
    ],
)
def test_slug_rules(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize(
    ("class_name", "function_id"),
    [("SignUpFlow", "sign-up-flow"), ("HTTPImport", "http-import"), ("Job2Run", "job2-run")],
)
def test_default_id_from_class_name(class_name: str, function_id: str) -> None:
    cls = type(class_name, (InngestFunction,), {}, event="a/b")
    assert spec_of(cls).id == function_id
    assert spec_of(cls).name == class_name


def test_spec_of_rejects_non_functions() -> None:
    with pytest.raises(TypeError, match="not a concrete InngestFunction"):
        spec_of(int)


def test_max_attempts_is_retries_plus_one_with_inngest_default() -> None:
    class Default(InngestFunction, event="a/b"):
        pass

    class Never(InngestFunction, event="a/b", retries=0):
        pass

    assert spec_of(Default).max_attempts == 5
    assert spec_of(Never).max_attempts == 1


@pytest.mark.parametrize("verb", [run, step, sleep_until, send_event])
def test_a_bare_decorator_is_one_problem_not_two(verb: Any) -> None:
    with pytest.raises(DefinitionError) as caught:

        class Bare(InngestFunction, event="a/b"):
            @verb
            def forgot(self, ctx: Context) -> None: ...

    assert caught.value.problems == (
        f'{verb.__name__}: give the block a message, as in @{verb.__name__}("send welcome")',
    )


class SleepsInABody(InngestFunction, event="a/sleepy", retries=0):
    @step("nap")
    async def nap(self, ctx: Context) -> None:
        sleep("1h")  # a declaration, not a sleep: ctx.step.sleep is the one for bodies


def test_a_verb_called_in_a_body_says_to_use_ctx_step() -> None:
    result = run_function_sync(SleepsInABody)

    assert result.status == "failed"
    assert result.error is not None
    assert "sleep() can only be called in the body of an InngestFunction" in result.error.message
    assert 'await ctx.step.sleep("id", "1h")' in result.error.message


def test_a_match_path_must_start_at_a_field_of_the_event() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Unmatched(InngestFunction, event="a/b"):
            wait_for_event("a/c", timeout="1d", match="user_id")
            wait_for_event("a/d", timeout="1d", match="data.user_id")  # fine
            wait_for_event("a/e", timeout="1d", match="user.email")  # fine: the user field

    assert caught.value.problems == (
        "wait_for_event 'a/c': match= 'user_id' is no field of an event (a path starts at the "
        "event: data, id, name, ts, user, v); did you mean 'data.user_id'?",
    )


class WaitsAtRunTime(InngestFunction, event="a/waits", retries=0):
    @step("wait")
    async def wait(self, ctx: Context) -> None:
        await ctx.step.wait_for_event("w", event="a/c", timeout="1h", match="order_id")


def test_a_ctx_step_wait_with_a_bad_match_path_fails_the_run() -> None:
    result = run_function_sync(WaitsAtRunTime)

    assert result.error is not None
    assert "did you mean 'data.order_id'?" in result.error.message
