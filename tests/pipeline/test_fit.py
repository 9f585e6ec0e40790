"""The pure fit (:func:`pipeline.train.fit_screening_model`): what it shows, and identified-victim data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from pipeline.config import load_config
from pipeline.data.schema import Dataset
from pipeline.train import FittedScreening, Say, fit_screening_model


def _dataset(frame: pd.DataFrame, *, victims_only: bool) -> Dataset:
    return Dataset(
        frame=frame,
        source="ctdc" if victims_only else "synthetic",
        identified_victims_only=victims_only,
        has_ground_truth=not victims_only,
        unmapped_columns=[],
        missing_fields=[],
        digest="test",
        path=Path("test.parquet"),
    )


def test_the_fit_shows_its_stages_only_through_the_stage_it_is_given(trained: FittedScreening) -> None:
    shown: list[tuple[str, list[str]]] = []

    @contextmanager
    def stage(name: str) -> Iterator[Say]:
        words: list[str] = []
        yield words.append
        shown.append((name, words))

    frame = trained.splits.train.head(3000)
    config = load_config()
    config = config.model_copy(update={"calibration": config.calibration.model_copy(update={"ensemble_members": 2})})
    fitted = fit_screening_model(config, _dataset(frame, victims_only=False), stage=stage)
    assert [name for name, _ in shown] == ["split", "fit", "ensemble"]
    assert all(words for _, words in shown)
    assert fitted.outcomes == ("labour", "sexual")
    assert fitted.rows_used == len(frame)
    assert fitted.compile_gap <= 1e-6
    assert fitted.model.metadata["data_digest"] == "test"
    assert set(fitted.model.metadata["referral"]["levels"]) >= {"nrm", "support"}


def test_identified_victims_fit_only_sexual_versus_labour_among_the_victims(trained: FittedScreening) -> None:
    frame = trained.splits.train
    victims = frame.loc[(frame["is_labour"] == 1) | (frame["is_sexual"] == 1)]
    config = load_config()
    config = config.model_copy(update={"calibration": config.calibration.model_copy(update={"ensemble_members": 2})})
    fitted = fit_screening_model(config, _dataset(frame, victims_only=True))
    assert fitted.identified_victims_only
    assert fitted.outcomes == ("sexual",)
    assert tuple(fitted.fits) == ("sexual",)
    assert fitted.rows_used == len(victims) < len(frame)
    splits = fitted.splits
    assert len(splits.train) + len(splits.calibration) + len(splits.test) == len(victims)
    # No cut-interview copies of case files: the model saw the training split as it is.
    assert len(fitted.train_rows) == len(splits.train)
