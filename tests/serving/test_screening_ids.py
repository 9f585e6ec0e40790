"""Screening ids are time-ordered version-7 UUIDs written exactly as ``str(uuid.UUID(...))`` writes them."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from serving.usecases import new_screening_id


def _millis(sid: str) -> int:
    return uuid.UUID(sid).int >> 80


def test_ids_are_uuid7_strings_as_uuid_writes_them() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_screening_id() for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for sid in ids:
        parsed = uuid.UUID(sid)
        assert str(parsed) == sid
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert len(sid) == 36
        assert before <= _millis(sid) <= after  # the time it was made, in milliseconds


def test_later_ids_sort_after_earlier_ones() -> None:
    """What keeps the audit log's index appended to at its end: an id of a later millisecond sorts after."""
    first = new_screening_id()
    time.sleep(0.002)
    second = new_screening_id()
    assert _millis(first) < _millis(second)
    assert first < second


@pytest.mark.parametrize("raw", [b"\x00" * 10, b"\xff" * 10, bytes(range(10))])
def test_every_random_bit_is_kept(monkeypatch: pytest.MonkeyPatch, raw: bytes) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: raw[:n])
    monkeypatch.setattr(time, "time_ns", lambda: 0x0123_4567_89AB * 1_000_000 + 999_999)
    expected = uuid.UUID(bytes=bytes.fromhex("0123456789ab") + raw)
    fields = expected.int & ~(0xF << 76) & ~(0x3 << 62) | (0x7 << 76) | (0x2 << 62)
    assert new_screening_id() == str(uuid.UUID(int=fields))
