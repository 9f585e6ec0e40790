"""Schemathesis against Tarozu's own OpenAPI document: every operation, every role and none.

No 5xx, and every status code, content type, header and body is one the document promises
(``benchmarks/fuzz.py`` runs the same with 2,000 cases per operation). Two screeners fuzz each
other's screenings: reading one is a 404, deciding or correcting one is never a 2xx, and a
screener's list holds only their own. The fuzzer found integers beyond 64 bits answered with a
500; the regression test is ``tests/serving/test_screenings.py::test_integers_beyond_64_bits_are_422``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fuzz import OTHER_SCREENER, build, fuzz_app, key_ids, ownership_breach, seed_screenings
from serving.schemas import ROLES

EXAMPLES = 200


@pytest.mark.slow
def test_every_operation_keeps_its_documented_promises(tmp_path: Path) -> None:
    app, keys, client = build(tmp_path)
    with client:
        ids = seed_screenings(client, keys, 30)
        report = fuzz_app(app, keys, examples=EXAMPLES, screening_ids=ids)
    assert not report.failures, "\n\n".join(report.failures)
    assert len(report.per_operation) >= 18
    assert all(n >= 5 for n in report.per_operation.values()), report.per_operation
    assert not any(s >= 500 for s in report.statuses), report.statuses
    # The cases got past authentication and validation, not only bounced off them.
    for status in (200, 201, 401, 403, 404, 409, 422):
        assert report.statuses[status] > 0, report.statuses
    assert set(keys) == {*ROLES, OTHER_SCREENER}
    # Screeners did aim at each other's screenings, and got past body validation to the 404.
    assert report.foreign[404] >= 20, report.foreign
    assert not any(200 <= s < 300 or s >= 500 for s in report.foreign), report.foreign


IDS = {"screener": "aaa", OTHER_SCREENER: "bbb"}


@pytest.mark.parametrize(
    ("method", "path", "choice", "owner", "status", "body", "breach"),
    [
        ("GET", "/v1/screenings/{screening_id}", "screener", OTHER_SCREENER, 404, None, False),
        ("GET", "/v1/screenings/{screening_id}", "screener", OTHER_SCREENER, 200, {}, True),
        ("GET", "/v1/screenings/{screening_id}", "screener", OTHER_SCREENER, 403, None, True),
        ("GET", "/v1/screenings/{screening_id}", "screener", "screener", 200, {}, False),
        ("GET", "/v1/screenings/{screening_id}", "reviewer", "screener", 200, {}, False),
        ("POST", "/v1/screenings/{screening_id}/decision", OTHER_SCREENER, "screener", 201, {}, True),
        ("POST", "/v1/screenings/{screening_id}/corrections", OTHER_SCREENER, "screener", 422, {}, False),
        ("GET", "/v1/screenings", "screener", None, 200, {"items": [{"key_id": "aaa"}]}, False),
        ("GET", "/v1/screenings", "screener", None, 200, {"items": [{"key_id": "aaa"}, {"key_id": "bbb"}]}, True),
        ("GET", "/v1/screenings", "supervisor", None, 200, {"items": [{"key_id": "bbb"}]}, False),
    ],
)
def test_the_ownership_check_tells_breaches(
    method: str, path: str, choice: str, owner: str | None, status: int, body: object, breach: bool
) -> None:
    """The fuzzer's own check: it would notice a screener reaching what is not theirs."""
    found = ownership_breach(method, path, choice, owner, status, body, IDS)
    assert (found is not None) is breach, found


def test_key_ids_are_read_from_keys() -> None:
    assert key_ids({"screener": "tarozu_abc123_secret_with_underscores"}) == {"screener": "abc123"}
