"""Schemathesis against Tarozu's own OpenAPI document: every operation, every role and none.

No 5xx, and every status code, content type, header and body is one the document promises
(``benchmarks/fuzz.py`` runs the same with 2,000 cases per operation). The fuzzer found
integers beyond 64 bits answered with a 500; the regression test is
``tests/serving/test_screenings.py::test_integers_beyond_64_bits_are_422``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.fuzz import build, fuzz_app, seed_screenings

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
