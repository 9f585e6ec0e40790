"""End-to-end training into a temporary embedded MLflow, and what must stop it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import ConfigError, TrainConfig, load_config

CTDC_FILE = Path(__file__).resolve().parents[2] / "data" / "ctdc" / "CTDC_VPsynthetic_condensed.csv"


def _small(config: TrainConfig, rows: int = 6000) -> TrainConfig:
    return config.model_copy(
        update={
            "data": config.data.model_copy(update={"rows": rows, "seed": 5}),
            "calibration": config.calibration.model_copy(update={"ensemble_members": 3}),
            "evaluation": config.evaluation.model_copy(update={"bootstrap": 20}),
        }
    )


@pytest.mark.slow
def test_train_registers_a_model_that_loads_back_identically(mlflow_home):  # type: ignore[no-untyped-def]
    import mlflow

    from pipeline.train import train
    from serving import registry

    result = train(_small(load_config()), work_dir=mlflow_home / "data")
    assert result.version == "1"
    loaded = registry.load_registered(alias=registry.CHALLENGER)
    assert loaded.version == "1"
    assert loaded.card["model_details"]["version"] == "1"
    frame = result.splits.test
    codes = loaded.model.encoder.transform(frame).to_numpy()
    for outcome in ("labour", "sexual"):
        np.testing.assert_array_equal(
            loaded.model.score_codes(codes)[outcome].probability,
            result.model.score_codes(codes)[outcome].probability,
        )
    # The MLflow pyfunc gives the same numbers and explanations as the compiled model.
    pyfunc = mlflow.pyfunc.load_model(f"models:/{registry.MODEL_NAME}@challenger")
    out = pyfunc.predict(frame[list(loaded.model.fields)].head(50))
    np.testing.assert_allclose(out["labour_probability"], result.model.predict_proba(codes[:50])["labour"], rtol=1e-12)
    assert out["labour_top_reasons"].str.len().min() > 0
    # ...and the same referral tier per case as the API's engine: one decision rule for batch users.
    from models.engine import ScreeningEngine
    from pipeline.pyfunc import input_frame_to_codes

    engine = ScreeningEngine(loaded.model)
    flat = [engine.flat(a) for a in engine.assess_many(input_frame_to_codes(loaded.model, frame.head(50)))]
    assert [None if t is None or t != t else t for t in out["referral_tier"]] == [f["referral_tier"] for f in flat]
    assert out["leaning_tier"].tolist() == [f["leaning_tier"] for f in flat]
    assert {f["referral_tier"] for f in flat} - {None} <= {"nrm", "support", "information", "none"}
    # The card states each tier's rate, PPV and sensitivity on the test split, with intervals.
    tiers = loaded.card["referral"]["test"]["tiers"]
    assert list(tiers) == ["nrm", "support", "information", "none"]
    for entry in tiers.values():
        assert {"rate", "ppv", "sensitivity", "sensitivity_at_or_above"} <= set(entry)
        assert entry["rate"]["lower"] <= entry["rate"]["value"] <= entry["rate"]["upper"]
    assert loaded.card["referral"]["test"]["people"] == len(frame)
    assert loaded.card["referral"]["settings"]["nrm_max_share"] == 0.05
    # Evaluation reports intervals, baselines and the gap to the Bayes-optimal model.
    ev = result.evaluation["labour"]
    assert set(ev["models"]) == {"sparse_logistic", "additive_boosting", "count_screener", "delphi_rule"}
    auroc = ev["models"]["sparse_logistic"]["observed"]["auroc"]
    assert auroc["lower"] <= auroc["value"] <= auroc["upper"]
    assert "gap_to_bayes" in ev["models"]["sparse_logistic"]
    # The bound without the protected attributes sits between the full bound and the model.
    full, inputs = ev["bayes_optimal"]["observed"], ev["bayes_given_inputs"]["observed"]
    assert full["log_loss"] < inputs["log_loss"] < ev["models"]["sparse_logistic"]["observed"]["log_loss"]["value"]
    assert result.card.metrics["labour"].gap_to_bayes_given_inputs is not None
    assert result.card.out_of_scope_uses
    # What the run logged is the card the run returned, with the registered version's number.
    assert json.dumps(loaded.card) == json.dumps(result.card.to_json(), default=float)
    assert not registry.alias_version(name=registry.MODEL_NAME, alias=registry.CHAMPION)


@pytest.mark.slow
def test_ctdc_victims_only_data_is_trained_but_never_registered(mlflow_home):  # type: ignore[no-untyped-def]
    from pipeline.train import train
    from serving import registry

    assert CTDC_FILE.exists(), "the CTDC file ships in data/ctdc"
    config = load_config()
    config = _small(config).model_copy(
        update={"data": config.data.model_copy(update={"source": "file", "path": str(CTDC_FILE)})}
    )
    result = train(config, work_dir=mlflow_home / "data")
    assert result.version is None
    assert not result.screening_model
    assert "identified victims only" in " ".join(result.card.caveats_and_recommendations)
    assert registry.alias_version(name=registry.MODEL_NAME, alias=registry.CHALLENGER) is None


@pytest.mark.parametrize(
    ("source", "follow_up", "loop"),
    [
        ("field", None, True),
        ("field", 0, True),
        ("synthetic+field", 0, True),
        ("field", 40, False),
        ("synthetic", None, False),
    ],
)
def test_only_field_data_with_a_random_follow_up_escapes_the_feedback_loop(
    tmp_path: Path, small_frame: pd.DataFrame, source: str, follow_up: int | None, loop: bool
) -> None:
    """What the training below decides by: field outcomes without the random follow-up's (no report
    beside the export, or one that counts none) are of referred people only."""
    from pipeline.data.schema import Dataset
    from pipeline.train import referred_only

    path = tmp_path / "field.parquet"
    if follow_up is not None:
        report = {"counts": {"follow_up": follow_up, "follow_up_rate": 0.05}, "selective_labels": "..."}
        Path(f"{path}.report.json").write_text(json.dumps(report), encoding="utf-8")
    dataset = Dataset(
        frame=small_frame.head(10),
        source=source,
        identified_victims_only=False,
        has_ground_truth=False,
        unmapped_columns=[],
        missing_fields=[],
        digest="d",
        path=path,
    )
    assert referred_only(dataset) is loop


@pytest.mark.slow
@pytest.mark.parametrize("follow_up", [None, 40])
def test_field_data_of_referred_people_only_is_never_registered(  # type: ignore[no-untyped-def]
    mlflow_home, small_frame, follow_up
):
    """The feedback loop (AI Act Art. 15): outcomes exist only for people an earlier model referred;
    a model trained on them alone would refer the unreferred kind of person even less. Only outcomes
    from the random follow-up of unreferred people let such a run register (a report counting none
    is the same as no report: the test above)."""
    from pipeline.data.schema import write_frame
    from pipeline.train import FEEDBACK_LOOP_NOTE, train
    from serving import registry

    field = small_frame.head(6000).drop(columns=["true_labour", "true_sexual", "p_labour", "p_sexual"])
    path = write_frame(field, mlflow_home / "field.parquet")
    if follow_up is not None:  # the export's report beside the file
        report = {"counts": {"follow_up": follow_up, "follow_up_rate": 0.05}, "selective_labels": "..."}
        Path(f"{path}.report.json").write_text(json.dumps(report), encoding="utf-8")
    config = load_config()
    config = _small(config).model_copy(
        update={"data": config.data.model_copy(update={"source": "file", "path": str(path)})}
    )
    result = train(config, work_dir=mlflow_home / "data")
    caveats = " ".join(result.card.caveats_and_recommendations)
    registered = registry.alias_version(name=registry.MODEL_NAME, alias=registry.CHALLENGER)
    if follow_up:
        assert result.version is not None
        assert registered is not None
        assert FEEDBACK_LOOP_NOTE not in caveats
    else:
        assert result.version is None
        assert registered is None
        assert FEEDBACK_LOOP_NOTE in caveats


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("data:\n  rowz: 10\n", "rowz"),
        ("calibration:\n  target_sensitivity: 1.5\n", "target_sensitivity"),
        ("features:\n  protected_as_features: [gender]\n", "reason"),
        ("features:\n  protected_as_features: [passport]\n  reason: x\n", "not monitoring fields"),
        ("- a list\n", "mapping"),
        ("data: [unclosed\n", "not valid YAML"),
        ("fairness:\n  tolerance: [1.2, 0.8]\n", "fairness.tolerance must be"),
        ("promotion:\n  fairness:\n    block_on: [ppv]\n", "block_on"),
    ],
)
def test_bad_configs_are_named(tmp_path, yaml_text, message):  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_shipped_config_holds_the_models_defaults() -> None:
    """Every value of default.yaml is its key's default in pipeline/config.py: the two cannot drift apart."""
    assert load_config() == TrainConfig()


def test_bad_data_stops_before_anything_is_registered(mlflow_home, capsys):  # type: ignore[no-untyped-def]
    bad = mlflow_home / "bad.csv"
    pd.DataFrame({"name": ["A B"], "passport": ["X1"], "is_labour": [1]}).to_csv(bad, index=False)
    assert main(["train", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "passport" in err
    assert not (mlflow_home / "mlflow.db").exists()


def test_single_class_data_is_a_clear_error(mlflow_home, small_frame, capsys):  # type: ignore[no-untyped-def]
    from pipeline.data.schema import write_frame

    frame = small_frame.head(3000).copy()
    frame["is_sexual"] = 0
    frame["true_sexual"] = 0
    frame["p_sexual"] = 0.0
    path = write_frame(frame, mlflow_home / "one-class.parquet")
    assert main(["train", "--data", str(path)]) == 2
    assert "only negative cases" in capsys.readouterr().err
    assert not (mlflow_home / "mlflow.db").exists()


def test_no_question_asked_trains_on_context_and_explains_nothing_by_indicators(small_frame):  # type: ignore[no-untyped-def]
    """A data set where no indicator was ever asked: the models learn from context only, and
    every question weighs exactly 0 in the compiled model."""
    from models.encoding import FieldEncoder
    from models.questionnaire import load_questionnaire
    from pipeline.modeling import compile_screening_model, fit_answer_model, fit_outcome
    from pipeline.train import split_data

    frame = small_frame.copy()
    for f in load_questionnaire().indicators:
        frame[f.id] = "not_asked"
    config = load_config()
    splits = split_data(frame, calibration=0.2, test=0.2, seed=0)
    encoder = FieldEncoder(config.feature_fields)
    fit = fit_outcome(
        outcome="labour", config=config, encoder=encoder, train=splits.train, calibration=splits.calibration
    )
    est = fit.candidates["sparse_logistic"].estimator
    explanation = est.explain(encoder.transform(splits.test))
    indicator_columns = [i for i, f in enumerate(encoder.field_ids) if f in set(load_questionnaire().indicator_ids)]
    np.testing.assert_allclose(explanation.values[:, indicator_columns], 0.0, atol=1e-12)
    model = compile_screening_model(
        fits={"labour": fit},
        production="sparse_logistic",
        encoder=encoder,
        ensembles={},
        answer_model=fit_answer_model(encoder=encoder, frame=splits.train, settled_flip_chance=0.05),
        dont_know_cap=config.models.sparse_logistic.dont_know_cap,
        metadata={},
    )
    for j in indicator_columns:
        assert not model.outcomes["labour"].contributions[j].any()
    assert np.ptp(est.predict_proba(encoder.transform(splits.test))[:, 1]) > 0


def test_calibrated_whatever_the_number_of_questions_asked(trained):  # type: ignore[no-untyped-def]
    """Short and long interviews alike: the mean probability matches the observed rate per length."""
    from pipeline.evaluate import by_questions_asked, questions_asked

    test = trained.splits.test
    codes = trained.encoder.transform(test)
    asked = questions_asked(test)
    assert asked.min() < 6
    assert asked.max() > 25
    for outcome in ("labour", "sexual"):
        p = trained.fits[outcome].candidates["sparse_logistic"].predict_proba(codes)
        y = test[f"is_{outcome}"].to_numpy()
        bins = by_questions_asked(y=y, p=p, asked=asked)
        assert sum(b.n for b in bins.values()) == len(test)
        for name, b in bins.items():
            se = np.sqrt(max(b.observed_rate * (1 - b.observed_rate), 1e-3) / b.n)
            assert abs(b.mean_probability - b.observed_rate) < 4 * se + 0.005, (outcome, name, b)
