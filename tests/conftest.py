"""Session-wide fixtures: small generated data and fitted models, no network, no previous run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

if TYPE_CHECKING:
    from pipeline.train import FittedScreening

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The API fixtures (audit database, keys, app, PostgreSQL) serve every test folder.
pytest_plugins = ["tests.support.fixtures"]

SEEDS = (0, 1, 2)


@pytest.fixture(params=SEEDS)
def global_random_seed(request: pytest.FixtureRequest) -> int:
    """Statistical tests must pass for any seed, not one lucky one."""
    return int(request.param)


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    from pipeline.data.synthetic import generate

    return generate(rows=20_000, seed=11)


@pytest.fixture(scope="session")
def trained(small_frame: pd.DataFrame) -> FittedScreening:
    """The real fit (:func:`pipeline.train.fit_screening_model`) on the small frame: no MLflow.

    The default configuration with 5 ensemble members instead of 50, to keep the suite fast.
    """
    from pipeline.config import load_config
    from pipeline.data.schema import Dataset
    from pipeline.train import fit_screening_model

    config = load_config()
    config = config.model_copy(update={"calibration": config.calibration.model_copy(update={"ensemble_members": 5})})
    dataset = Dataset(
        frame=small_frame,
        source="synthetic",
        identified_victims_only=False,
        has_ground_truth=True,
        unmapped_columns=[],
        missing_fields=[],
        digest="small-frame",
        path=Path("small-frame.parquet"),
    )
    return fit_screening_model(config, dataset)


@pytest.fixture
def mlflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh embedded MLflow (SQLite + local artifacts) in a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def random_cases(rng: np.random.Generator, n: int) -> list[dict[str, str]]:
    from models.questionnaire import load_questionnaire

    q = load_questionnaire()
    return [{f.id: str(rng.choice(f.levels)) for f in q.feature_fields} for _ in range(n)]
