"""Session-wide fixtures: small generated data and fitted models, no network, no previous run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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
def trained(small_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Fitted candidates and the compiled model of both outcomes on the small frame (no MLflow)."""
    from models.encoding import FieldEncoder
    from pipeline.config import load_config
    from pipeline.modeling import (
        LABELS,
        compile_screening_model,
        fit_answer_model,
        fit_outcome,
        uncertainty_ensemble,
    )
    from pipeline.train import split_data, with_cut_interviews

    config = load_config()
    splits = split_data(small_frame, calibration=0.2, test=0.2, seed=0)
    train = with_cut_interviews(splits.train, config.interviews, seed=0)
    calibration = with_cut_interviews(splits.calibration, config.interviews, seed=1)
    encoder = FieldEncoder(config.feature_fields)
    fits = {
        o: fit_outcome(outcome=o, config=config, encoder=encoder, train=train, calibration=calibration)
        for o in ("labour", "sexual")
    }
    ensembles = {
        o: uncertainty_ensemble(
            candidate=fits[o].candidates["sparse_logistic"],
            encoder=encoder,
            train=train,
            calibration=calibration,
            label=LABELS[o],
            members=5,
            seed=1,
            dont_know_cap=config.models.sparse_logistic.dont_know_cap,
        )
        for o in fits
    }
    model = compile_screening_model(
        fits=fits,
        production="sparse_logistic",
        encoder=encoder,
        ensembles=ensembles,
        answer_model=fit_answer_model(
            encoder=encoder, frame=splits.train, settled_flip_chance=config.calibration.settled_flip_chance
        ),
        dont_know_cap=config.models.sparse_logistic.dont_know_cap,
        metadata={},
    )
    return {
        "config": config,
        "splits": splits,
        "train_rows": train,  # the training split and its cut interviews: what the models saw
        "encoder": encoder,
        "fits": fits,
        "model": model,
    }


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
