"""`@on_failure`: declared once per concrete class, and testable with the testing kit."""

from __future__ import annotations

from typing import Any

import pytest

from inngest_dsl import (
    Context,
    DefinitionError,
    Event,
    Failure,
    InngestFunction,
    StepError,
    failure_spec,
    on_failure,
    spec_of,
    step,
)
from inngest_dsl.testing import run_function

FAILED: dict[str, Any] = {
    "name": "inngest/function.failed",
    "data": {
        "function_id": "charge",
        "run_id": "01RUN",
        "event": {"name": "shop/charge", "data": {"order_id": "o-1"}},
        "error": {"name": "RuntimeError", "message": "card declined"},
    },
}


class Charge(InngestFunction, id="charge", event="shop/charge"):
    @step("charge")
    def charge(self, ctx: Context) -> None:
        raise RuntimeError("card declined")

    @on_failure
    async def alert(self, ctx: Context, failure: Failure) -> dict[str, str]:
        return {"alerted": f"{failure.event.data['order_id']}: {failure.error}"}


def test_spec_holds_the_handler() -> None:
    assert spec_of(Charge).on_failure is Charge.alert
    assert failure_spec(Charge).name == "Charge (failure)"


def test_failure_from_event() -> None:
    failure = Failure.from_event(Event.from_wire(FAILED))
    assert failure.event == Event.from_wire(FAILED["data"]["event"])
    assert failure.events == (failure.event,)
    assert (failure.run_id, failure.function_id) == ("01RUN", "charge")
    assert isinstance(failure.error, StepError)
    assert (failure.error.name, failure.error.message, failure.error.stack) == (
        "RuntimeError",
        "card declined",
        None,
    )


def test_failure_error_fields_default_when_missing() -> None:
    data = {"event": {"name": "a/b"}, "error": {}}
    failure = Failure.from_event(Event.from_wire({"name": "inngest/function.failed", "data": data}))
    assert (failure.error.name, failure.error.message) == ("Error", "")
    assert (failure.run_id, failure.function_id) == ("", "")


async def test_testing_kit_runs_the_handler() -> None:
    result = await run_function(failure_spec(Charge), FAILED)
    assert result.status == "completed"
    assert result.output == {"alerted": "o-1: RuntimeError: card declined"}


async def test_testing_kit_reports_a_bad_failure_event() -> None:
    result = await run_function(failure_spec(Charge))  # the default: an event without data
    assert result.status == "failed"
    assert result.error is not None
    # The served handler refuses the event (400, no retry); the run fails with its message.
    assert result.calls == 1
    assert "has no data.error object" in result.error.message


def test_failure_spec_of_a_function_without_handler() -> None:
    class Plain(InngestFunction, event="a/b"):
        pass

    with pytest.raises(TypeError, match="Plain has no @on_failure handler"):
        failure_spec(Plain)


# ---------------------------------------------------------------------------------------------
# Definition-time mistakes


def _problems(body: Any) -> tuple[str, ...]:
    with pytest.raises(DefinitionError) as caught:
        body()
    return caught.value.problems


def test_the_decorator_may_be_called_with_no_arguments() -> None:
    class Called(InngestFunction, id="called", event="a/b"):
        @on_failure()
        def alert(self, ctx: Context, failure: Failure) -> None: ...

    assert failure_spec(Called).id == "called-failure"


def test_one_handler_per_class() -> None:
    def define() -> None:
        class Twice(InngestFunction, event="a/b"):
            @on_failure
            def first(self, ctx: Context, failure: Failure) -> None: ...

            @on_failure
            def second(self, ctx: Context, failure: Failure) -> None: ...

    assert _problems(define) == (
        "on_failure: a function has one failure handler, got 'first' and 'second'",
    )


def test_handler_takes_no_message() -> None:
    def define() -> None:
        class Messaged(InngestFunction, event="a/b"):
            @on_failure("alert")  # type: ignore[type-var, operator]
            def alert(self, ctx: Context, failure: Failure) -> None: ...

    assert _problems(define) == (
        "on_failure takes no message: write @on_failure above the method, "
        "not @on_failure('alert')",
    )


def test_handler_signature_and_callable() -> None:
    def define() -> None:
        class Wrong(InngestFunction, event="a/b"):
            @on_failure  # type: ignore[type-var]
            def alert(self, ctx: Context) -> None: ...

    assert _problems(define) == ("on_failure 'alert': the method must take (self, ctx, failure)",)

    def define_not_callable() -> None:
        class NotCallable(InngestFunction, event="a/b"):
            alert = on_failure(42)  # type: ignore[type-var]

    assert _problems(define_not_callable) == (
        "on_failure: the decorated object is not callable: 42",
    )


def test_abstract_bases_take_no_handler() -> None:
    def define() -> None:
        class Base(InngestFunction, abstract=True):
            @on_failure
            def alert(self, ctx: Context, failure: Failure) -> None: ...

    assert _problems(define) == (
        "abstract=True bases take no @on_failure: declare it on the concrete class "
        "(its body may call a method of this base)",
    )


def test_a_base_method_can_be_the_handler() -> None:
    class Base(InngestFunction, abstract=True):
        def alert(self, ctx: Context, failure: Failure) -> None: ...

    class Concrete(Base, event="a/b"):
        alert = on_failure(Base.alert)

    assert spec_of(Concrete).on_failure is Base.alert


def test_outside_a_class_body() -> None:
    def alert(self: Any, ctx: Context, failure: Failure) -> None: ...

    with pytest.raises(DefinitionError, match="on_failure\\(\\) can only be called in the body"):
        on_failure(alert)
