"""The pure fit (:func:`pipeline.train.fit_screening_model`): what it shows, and identified-victim data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from models.questionnaire import load_questionnaire
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


# What the fitted screening model does with the default configuration's fields.
def test_strong_indicator_yes_raises_labour_score(trained: FittedScreening) -> None:
    model = trained.model
    base = {"documents_withheld": "no", "destination": "RUS", "sector": "construction"}
    low = model.score_codes(model.encode(base))["labour"].log_odds[0]
    high = model.score_codes(model.encode({**base, "documents_withheld": "yes"}))["labour"].log_odds[0]
    assert high - low > 0.5


def test_protected_attributes_change_nothing(trained: FittedScreening) -> None:
    model = trained.model
    case = {"documents_withheld": "yes", "destination": "RUS"}
    reference = model.score_codes(model.encode(case))
    assert not {"gender", "age_band", "citizenship", "region"} & set(model.fields)
    for gender in ("man", "woman", "trans_nonconforming"):
        other = model.score_codes(model.encode({**case, "gender": gender, "age_band": "18-20"}))
        for outcome in model.outcome_names:
            assert other[outcome].probability[0] == reference[outcome].probability[0]


INTERVIEW_SETTING = ("interview_language", "interpreter_present", "others_present", "site_type")


def test_interview_setting_is_audited_not_a_feature(trained: FittedScreening) -> None:
    """How the interview was held goes to the audit and the log, never into the score."""
    assert set(INTERVIEW_SETTING) <= set(load_questionnaire().monitoring_ids)
    model = trained.model
    assert not set(INTERVIEW_SETTING) & set(model.fields)
    case = {"documents_withheld": "yes", "destination": "RUS"}
    reference = model.score_codes(model.encode(case))
    setting = {
        "interview_language": "ru",
        "interpreter_present": "yes",
        "others_present": "recruiter_or_employer",
        "site_type": "border_point",
    }
    other = model.score_codes(model.encode({**case, **setting}))
    for outcome in model.outcome_names:
        assert other[outcome].probability[0] == reference[outcome].probability[0]


def test_null_indicator_gets_near_zero_weight(trained: FittedScreening) -> None:
    """The generator's no-effect indicator ranks below every strong indicator."""
    model = trained.model
    q = load_questionnaire()
    index = {f: i for i, f in enumerate(model.fields)}
    for outcome in model.outcome_names:
        tables = model.outcomes[outcome].contributions
        spread = {f: float(np.ptp(tables[i])) for f, i in index.items()}
        assert spread["deceived_education"] < 0.25
        strong = [spread[f.id] for f in q.indicators if f.delphi_strength(outcome) == "strong"]
        # on 20,000 rows the L1 fit may keep few strong indicators for the rare outcome, but
        # those it keeps, and the strong ones on average, weigh far more than the null one
        assert np.mean(strong) > 4 * spread["deceived_education"]
        assert max(strong) > 0.5
