"""Run and event ids: ULIDs, each greater than the one before."""

from __future__ import annotations

from ulid import ULID

from inngest_dsl.devserver.core.admission import new_id


def test_ids_are_ulids() -> None:
    for _ in range(100):
        ident = new_id()
        assert str(ULID.from_str(ident)) == ident


def test_ids_made_in_the_same_millisecond_keep_their_order() -> None:
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
