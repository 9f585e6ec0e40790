"""One minute of ``benchmarks/soak.py``: no errors, memory flat, CPU per screening steady."""

from __future__ import annotations

import pytest

from benchmarks.soak import run


@pytest.mark.slow
@pytest.mark.soak  # alone: the other test worker's load would change the server's CPU per screening
def test_one_minute_soak_has_no_errors_no_growth_no_slowdown() -> None:
    result = run(seconds=60, concurrency=8)
    print(result.report())
    assert result.requests > 500, result.report()
    assert not result.problems(), result.report()
