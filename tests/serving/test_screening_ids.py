"""Screening ids are random version-4 UUIDs written exactly as ``str(uuid.uuid4())`` writes them."""

from __future__ import annotations

import os
import uuid

import pytest

from serving.usecases import new_screening_id


def test_ids_are_uuid4_strings_as_uuid_writes_them() -> None:
    ids = [new_screening_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for sid in ids:
        parsed = uuid.UUID(sid)
        assert str(parsed) == sid
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert len(sid) == 36


@pytest.mark.parametrize("raw", [b"\x00" * 16, b"\xff" * 16, bytes(range(16))])
def test_every_random_bit_is_kept(monkeypatch: pytest.MonkeyPatch, raw: bytes) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: raw)
    assert new_screening_id() == str(uuid.UUID(bytes=raw, version=4))
