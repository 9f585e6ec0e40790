"""The real CTDC file: Tarozu learns what its mapped columns know, and research runs are never registered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from pipeline.config import load_config
from pipeline.data.ctdc import VP_FIELDS

CTDC_FILE = Path(__file__).resolve().parents[2] / "data" / "ctdc" / "CTDC_VPsynthetic_condensed.csv"
# Every source column the loader maps to a feature (recruiter_relation comes from IP_Relation).
MAPPED_COLUMNS = ["IP_Relation", *VP_FIELDS]


@pytest.mark.slow
def test_tarozu_keeps_the_signal_of_every_mapped_ctdc_column(mlflow_home: Path) -> None:
    """Tarozu's run on the CTDC task is not worse than a plain one-hot regression on the raw mapped columns.

    Both are scored on the same test rows; the plain model trains on the run's training and
    calibration rows. A mapping that drops or scrambles a column's information fails here.
    """
    from pipeline.data.schema import load_dataset
    from pipeline.train import split_data, train

    config = load_config()
    config = config.model_copy(
        update={
            "data": config.data.model_copy(update={"source": "file", "path": str(CTDC_FILE)}),
            "calibration": config.calibration.model_copy(update={"ensemble_members": 3}),
            "evaluation": config.evaluation.model_copy(update={"bootstrap": 20}),
        }
    )
    result = train(config, work_dir=mlflow_home / "data")
    assert result.version is None
    assert not result.screening_model
    tarozu = result.evaluation["sexual"]["models"]["sparse_logistic"]["observed"]["auroc"]["value"]

    raw = pd.read_csv(CTDC_FILE, dtype=str, keep_default_na=False)
    frame = load_dataset(CTDC_FILE).frame.join(raw[MAPPED_COLUMNS].add_prefix("raw_"))
    frame = frame.loc[(frame["is_labour"] == 1) | (frame["is_sexual"] == 1)].reset_index(drop=True)
    splits = split_data(frame, calibration=config.split.calibration, test=config.split.test, seed=config.split.seed)
    assert splits.test["is_sexual"].tolist() == result.splits.test["is_sexual"].tolist()
    columns = [f"raw_{c}" for c in MAPPED_COLUMNS]
    fit_rows = pd.concat([splits.train, splits.calibration])
    encoder = OneHotEncoder(handle_unknown="ignore").fit(fit_rows[columns])
    plain = LogisticRegression(max_iter=3000).fit(encoder.transform(fit_rows[columns]), fit_rows["is_sexual"])
    p = plain.predict_proba(encoder.transform(splits.test[columns]))[:, 1]
    reference = roc_auc_score(splits.test["is_sexual"], p)
    assert reference > 0.78  # the columns carry signal: a broken reference would make the test vacuous
    assert tarozu >= reference - 0.01, (tarozu, reference)


@pytest.mark.slow
def test_research_mode_is_logged_and_never_registered(mlflow_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlflow.tracking import MlflowClient

    from pipeline.cli import main

    code = main(["train", "--data", str(CTDC_FILE), "--research"])
    assert code == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "analysis only" in out
    assert "not registered" in out
    assert "all non-protected source columns" in out
    client = MlflowClient()
    assert client.search_registered_models() == []
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 2
    assert all(r.data.tags.get("tarozu.research") == "true" for r in runs)
    assert all(r.data.tags.get("tarozu.screening_model") == "false" for r in runs)
    research = next(r for r in runs if r.info.run_name == "research")
    metrics = research.data.metrics
    # The source's own columns know more than the questionnaire's (protected ones never fitted).
    assert metrics["sexual.all_columns.auroc"] > metrics["sexual.questionnaire.auroc"]
    assert "gender" not in research.data.params["research.columns"].split(",")
    assert "UN_COO_Region" in research.data.params["research.left_out"]
