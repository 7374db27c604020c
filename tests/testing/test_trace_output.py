"""A failing assertion on a run shows what the run did."""

from __future__ import annotations

import pytest

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.testing import run_function_sync

FAILING_TEST = '''
from inngest_dsl import Context, InngestFunction, sleep, step
from inngest_dsl.testing import run_function_sync


class Charge(InngestFunction, id="charge", event="shop/charge", retries=1):
    @step("reserve")
    def reserve(self, ctx: Context) -> dict:
        return {"reservation": "R-17"}

    sleep("2h")

    @step("charge card")
    def charge(self, ctx: Context) -> None:
        raise RuntimeError("card declined")


def test_status():
    result = run_function_sync(Charge, {"name": "shop/charge", "data": {"amount": 5}})
    assert result.status == "completed"
'''


def test_a_failed_status_assertion_prints_the_trace(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_charge=FAILING_TEST)
    outcome = pytester.runpytest("-p", "no:cacheprovider")

    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines(
        [
            "*'failed' == 'completed'*",
            "*run of 'charge' failed after * calls*",
            "*error: RuntimeError: card declined*",
            "*1. step*'reserve'*-> {'reservation': 'R-17'}*",
            "*2. sleep*'sleep 2h'*slept 2:00:00  (at +2:00:00)",
            "*3. step*'charge card'*FAILED after 2 attempts: RuntimeError: card declined*",
            "*data: {'reservation': 'R-17'}*",
        ]
    )


class Refused(InngestFunction, id="refused", event="app/refused", retries=0):
    @step("ask")
    def ask(self, ctx: Context) -> None:
        raise ValueError("no")


def test_assert_completed_raises_with_the_trace() -> None:
    result = run_function_sync(Refused)
    with pytest.raises(AssertionError) as info:
        result.assert_completed()
    text = str(info.value)
    assert text.startswith("expected the run to complete\nrun of 'refused' failed")
    assert "1. step           'ask'  FAILED after 1 attempt: ValueError: no" in text
    result.assert_failed("ValueError: no")
    with pytest.raises(AssertionError, match="expected the run to fail with 'timeout'"):
        result.assert_failed("timeout")


def test_repr_is_one_line_and_format_trace_is_the_long_story() -> None:
    result = run_function_sync(Refused)
    assert repr(result) == (
        "<RunResult 'refused' failed, error='ValueError: no', 1 ops, output=None>"
    )
    assert result.format_trace().splitlines()[1:] == [
        "error: ValueError: no",
        "trace:",
        "  1. step           'ask'  FAILED after 1 attempt: ValueError: no",
        "data: {}",
    ]
    assert repr(result.status) == "'failed'"


def test_a_lookup_of_a_block_that_did_not_run_names_those_that_did() -> None:
    result = run_function_sync(Refused)
    with pytest.raises(KeyError, match="blocks that ran: 'ask'"):
        result.step("tell")
