"""Pure protocol helpers: canonical JSON, call bodies, response classification, backoff."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785

from inngest_dsl.devserver.core.protocol import (
    backoff_delay,
    build_call_body,
    canonical,
    interpret_response,
    retry_after,
)

SDK = {"X-Inngest-SDK": "x:v1"}


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, "x"]},
        {"é": "ünïcode ✓", "emoji": "😀", "ctl": '\x00\x1f\n\t"\\', "del": "\x7f"},
        {"n": 2**53 - 1, "f": 1.5, "e": 1e21, "z": -0.0, "h": 100.0},
        {"\U0001f600": 1, "\ufb01": 2},  # JCS sorts keys by UTF-16 code units
        [1, {"z": {"y": [{"x": "é"}]}}],
        "plain",
        None,
    ],
)
def test_canonical_matches_rfc8785(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value).decode()


def test_canonical_still_encodes_what_jcs_cannot() -> None:
    assert canonical({"big": 2**64, "a": 1}) == '{"a":1,"big":18446744073709551616}'


def test_call_body_is_canonical_and_complete() -> None:
    event = canonical({"name": "a/b", "data": {"x": 1.5}, "id": "1", "ts": 5, "user": {}})
    body = build_call_body(
        events_json=f"[{event}]",
        memos=[("bb", canonical({"data": "é"})), ("aa", "null")],
        step_id="step",
        run_id="R",
        fn_uuid="U",
        attempt=1,
        max_attempts=3,
        disable_immediate_execution=True,
        version=2,
        request_id="Q",
    )
    decoded = json.loads(body)
    assert rfc8785.dumps(decoded) == body
    assert decoded["steps"] == {"aa": None, "bb": {"data": "é"}}
    assert decoded["ctx"]["stack"] == {"current": 2, "stack": ["bb", "aa"]}
    assert decoded["event"] == decoded["events"][0]
    assert (decoded["use_api"], decoded["version"], decoded["defers"]) == (False, 2, {})


def test_responses_are_classified() -> None:
    done = interpret_response(200, SDK, b'{"ok":1}', 0.0)
    assert (done.completed, done.output_json) == (True, '{"ok":1}')
    ops = interpret_response(
        206, {**SDK, "X-Inngest-No-Retry": "true"}, b'[{"op":"steprun","id":"a"}]', 0.0
    )
    assert ops.ops is not None
    assert [(op.op, op.id) for op in ops.ops] == [("StepRun", "a")]
    assert ops.no_retry
    bad_op = interpret_response(206, SDK, b'[{"op":"Teleport","id":"a"}]', 0.0)
    assert bad_op.error is not None
    assert "unknown opcode" in bad_op.error["message"]
    no_sdk = interpret_response(200, {}, b"{}", 0.0)
    assert no_sdk.error is not None
    assert no_sdk.retryable
    failed = interpret_response(
        500, {**SDK, "X-Inngest-No-Retry": "true"}, b'{"name":"E","message":"m"}', 0.0
    )
    assert (failed.retryable, failed.error) == (False, {"name": "E", "message": "m"})
    text = interpret_response(502, SDK, b"gateway down", 0.0)
    assert text.error == {"name": "Error", "message": "HTTP 502: gateway down"}
    assert text.retryable


def test_retry_after_and_backoff() -> None:
    assert retry_after("30", 1000.0) == 1030.0
    assert retry_after("0", 1000.0) == 1001.0  # at least 1 s
    assert retry_after("9999999", 0.0) == 86400.0  # at most 24 h
    assert retry_after("2001-09-09T01:46:50Z", 1_000_000_000.0) == 1_000_000_010.0
    assert retry_after("soon", 0.0) is None
    assert [backoff_delay(n, None) for n in (0, 1, 2, 9, 30)] == [15, 30, 60, 7200, 7200]
    assert backoff_delay(3, 0.05) == 0.05
