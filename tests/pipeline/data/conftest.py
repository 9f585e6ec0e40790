"""Fixtures of the data tests: generated populations, the shared CTDC file, small frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.questionnaire import load_questionnaire
from pipeline.data.synthetic import generate

# Rows of the populations statistical tests draw; they run once per seed of the project's
# ``global_random_seed`` fixture (tests/conftest.py), with tolerances any seed passes.
STAT_ROWS = 120_000


CTDC_VP_FILE = Path(__file__).resolve().parents[3] / "data" / "ctdc" / "CTDC_VPsynthetic_condensed.csv"


@pytest.fixture(scope="session")
def ctdc_vp_path() -> Path:
    """The real CTDC Victim-Perpetrator condensed file, shipped in data/ctdc; missing fails, never skips."""
    assert CTDC_VP_FILE.is_file(), f"the CTDC file is missing: {CTDC_VP_FILE} (data/ctdc/SOURCE.md says what it is)"
    return CTDC_VP_FILE


@pytest.fixture(scope="session")
def population() -> Callable[..., pd.DataFrame]:
    """``population(rows=, seed=, scenario=)``: a generated frame, drawn once per session.

    The frame is shared between tests: do not modify it (copy first).
    """
    cache: dict[tuple[int, int, str], pd.DataFrame] = {}

    def make(*, rows: int = STAT_ROWS, seed: int = 0, scenario: str = "default") -> pd.DataFrame:
        key = (rows, seed, scenario)
        if key not in cache:
            cache[key] = generate(rows=rows, seed=seed, scenario=scenario)
        return cache[key]

    return make


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """``make_frame(n, **columns)``: a valid Tarozu frame of ``n`` rows, every field at its
    reference level (indicators not_asked, other fields unknown).

    Keyword arguments set columns (a scalar or a sequence of ``n`` values).
    """

    def make(n: int = 3, **columns: object) -> pd.DataFrame:
        fields = load_questionnaire().all_fields
        data: dict[str, object] = {f.id: [f.reference] * n for f in fields}
        data["is_labour"] = np.zeros(n, dtype=np.int64)
        data["is_sexual"] = np.zeros(n, dtype=np.int64)
        for name, value in columns.items():
            data[name] = value if isinstance(value, list | tuple | np.ndarray | pd.Series) else [value] * n
        return pd.DataFrame(data)

    return make
