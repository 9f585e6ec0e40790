"""Group metrics in the model card, baselines at a real operating point, and what promotion records."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.questionnaire import load_questionnaire
from pipeline.config import load_config
from pipeline.evaluate import Evaluation, at_specificity
from pipeline.fairness.audit import AuditSettings, audit_model
from pipeline.modelcard import DataSummary, ModelCard, build_card, card_markdown, card_summary, group_metrics
from tests.support.fairness import fair_frame


def _m(value: float) -> dict[str, float]:
    return {"value": value, "lower": value - 0.01, "upper": value + 0.01}


def _evaluation() -> Evaluation:
    observed = {k: _m(v) for k, v in {"auroc": 0.8, "log_loss": 0.2, "sensitivity": 0.9, "specificity": 0.7}.items()}
    delphi = {k: _m(v) for k, v in {"auroc": 0.7, "log_loss": 0.3, "sensitivity": 1.0, "specificity": 0.0}.items()}
    at_point = {"threshold": 0.6, "sensitivity": _m(0.55), "specificity": _m(0.72), "ppv": _m(0.1)}
    logged = {
        o: {
            "n": 1000,
            "prevalence_observed": 0.05,
            "models": {
                "sparse_logistic": {"threshold": 0.05, "high_threshold": 0.5, "observed": observed},
                "delphi_rule": {
                    "threshold": 0.01,
                    "high_threshold": 0.5,
                    "observed": delphi,
                    "at_model_specificity": at_point,
                },
            },
        }
        for o in ("labour", "sexual")
    }
    return Evaluation.from_json(logged)


def _card(model, frame) -> ModelCard:  # type: ignore[no-untyped-def]
    settings = AuditSettings.from_config(load_config(), n_boot=50)
    audit = audit_model(model=model, frame=frame, settings=settings, data="the test split")
    return build_card(
        name="tarozu-screening",
        version="1",
        config=load_config(),
        data=DataSummary(source="synthetic", rows=len(frame), digest="abc123"),
        evaluation=_evaluation(),
        features=[],
        screening_model=True,
        group_metrics=group_metrics(audit),
    )


def test_card_shows_metrics_by_group_with_intervals_and_baselines_at_the_models_operating_point(model) -> None:
    frame = fair_frame(rows=4000, seed=5)
    card = _card(model, frame)
    text = card_markdown(card)
    by_group = text[text.index("## Metrics by group") :]
    assert "Not computed" not in by_group
    assert "| group | people | victims | miss rate [95% CI]" in by_group
    assert card.metrics_by_group is not None
    women = card.metrics_by_group.attributes["gender"]["labour"]
    woman = next(r for r in women if r.group == "woman")
    assert woman.rates["fnr"].lower <= woman.rates["fnr"].value <= woman.rates["fnr"].upper
    assert f"| woman | {woman.people} | {woman.victims} |" in by_group
    assert card.metrics["labour"].baselines["delphi_rule"].metric("sensitivity").value == 0.55
    assert "| delphi_rule | 0.700" in text
    assert "0.550 [0.540, 0.560]" in text
    logged = json.loads(json.dumps(card.to_json(), default=float))  # the card as MLflow keeps it
    assert logged["metrics"]["labour"]["baselines"]["delphi_rule"]["sensitivity"]["value"] == 0.55
    assert list(logged["metrics"]["labour"]["baselines"]["delphi_rule"]) == [
        "auroc",
        "log_loss",
        "threshold",
        "sensitivity",
        "specificity",
        "ppv",
    ]
    summary = card_summary(card)
    assert "By group:" in summary
    assert "not validated for field use" in summary


def test_the_card_round_trips_through_its_logged_json(model) -> None:  # type: ignore[no-untyped-def]
    """to_json -> from_json -> to_json writes the same bytes: promotion reads the logged card back."""
    from pipeline.referral import ReferralSummary, Share, TierReport, TierResult

    share = Share(value=0.25, lower=None, upper=None)
    referral = ReferralSummary(
        thresholds={"labour": {"information": 0.01, "support": 0.02, "nrm": 2.0}},
        test=TierReport(
            people=4,
            victims=1,
            tiers={
                "nrm": TierResult(
                    people=1, victims=1, rate=share, ppv=share, sensitivity=share, sensitivity_at_or_above=share
                )
            },
        ),
        settings={"nrm_max_share": 0.05, "sensitivity": 0.9, "information_sensitivity": 0.97},
    )
    card = dataclasses.replace(_card(model, fair_frame(rows=3000, seed=7)), referral=referral)
    card = card.with_accepted_risk(at="2026-12-01T10:00:00Z", reason="reviewed", overridden=("a", "b"))
    written = json.dumps(card.to_json(), indent=1, default=float)
    read = ModelCard.from_json(json.loads(written))
    assert json.dumps(read.to_json(), indent=1, default=float) == written
    assert card_markdown(read) == card_markdown(card)
    assert card_summary(read) == card_summary(card)
    assert "NaN" in written  # a group too small for an interval keeps it undefined both ways


def test_a_few_level_rule_is_reported_where_it_refers_no_more_people_than_the_model() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(20000) < 0.05).astype(int)
    score = np.minimum(rng.poisson(np.where(y == 1, 1.8, 0.6)), 3)  # 0-3, like the Delphi rule
    p = np.array([0.01, 0.04, 0.15, 0.4])[score]
    point = at_specificity(y, p, specificity=0.8, n_boot=50, seed=0)
    assert point.metrics["specificity"].value >= 0.8
    assert 0.0 < point.metrics["sensitivity"].value < 1.0


# ---------------------------------------------------------------------------- promotion
@pytest.fixture
def registered(mlflow_home: Path) -> dict[str, Any]:
    import mlflow

    from pipeline import registration
    from pipeline.data.schema import write_frame
    from pipeline.modelcard import write_card
    from pipeline.train import describe_version
    from serving import registry
    from tests.support.fairness import make_model

    model = make_model()

    model.metadata["questionnaire_version"] = load_questionnaire().version
    frame = fair_frame(rows=6000, seed=6)
    card = _card(model, frame)
    experiment = registration.ensure_experiment("promotion-test")
    with mlflow.start_run(experiment_id=experiment):
        write_card(card, mlflow_home / "card")
        mlflow.log_artifacts(str(mlflow_home / "card"), artifact_path="model_card")
        version, _ = registration.log_screening_model(model, registered_name=registry.MODEL_NAME)
    assert version is not None
    registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHALLENGER, version=version)
    describe_version(name=registry.MODEL_NAME, version=version, card=card, model=model)
    return {"version": version, "card": card, "data": str(write_frame(frame, mlflow_home / "evaluation.parquet"))}


def _promote(data: str, accept_risk: str | None) -> int:
    from pipeline.cli.promote import run

    return run(argparse.Namespace(config=None, data=data, accept_risk=accept_risk))


def _version(version: str) -> Any:
    from serving import registry

    return registry.client().get_model_version(registry.MODEL_NAME, version)


def test_registered_version_says_what_it_is(registered: dict[str, Any]) -> None:
    mv = _version(registered["version"])
    assert mv.description == card_summary(registered["card"])
    assert mv.tags["data_source"] == "synthetic"
    assert mv.tags["data_digest"] == "abc123"
    assert mv.tags["questionnaire_version"] == load_questionnaire().version
    assert mv.tags["fairness_gate"] == "not run"


def test_promotion_refused_by_the_gate_then_accepted_with_a_reason(registered: dict[str, Any]) -> None:
    from pipeline.errors import CommandError
    from serving import registry

    # 6,000 rows of which 20% are flagged: large groups lack the victims to check miss rates (power rule).
    assert _promote(registered["data"], None) == 1
    mv = _version(registered["version"])
    assert mv.tags["fairness_gate"] == "refused"
    assert mv.tags["promotion"] == "refused"
    assert registry.alias_version(name=registry.MODEL_NAME, alias=registry.CHAMPION) is None
    with pytest.raises(CommandError, match="needs a reason"):
        _promote(registered["data"], "  ")
    assert _promote(registered["data"], "reviewed by the audit lead: synthetic data only") == 0
    mv = _version(registered["version"])
    assert mv.tags["accepted_risk"] == "reviewed by the audit lead: synthetic data only"
    assert mv.tags["fairness_gate"] == "refused"
    assert mv.tags["promotion"] == "promoted"
    assert "accepted risk: reviewed by the audit lead" in mv.description
    champion = registry.alias_version(name=registry.MODEL_NAME, alias=registry.CHAMPION)
    assert str(champion.version) == registered["version"]
    card = registry.load_registered(alias=registry.CHAMPION).card
    assert card["accepted_risks"][0]["reason"].startswith("reviewed by the audit lead")


def test_the_cards_data_section_is_logged_and_read_back_through_one_json_form() -> None:
    summary = DataSummary(
        source="ctdc",
        layout="ctdc-vp-condensed",
        rows=900,
        rows_used=850,
        digest="d1",
        identified_victims_only=True,
        unmapped_columns=("yearOfRegistration",),
        fields_not_in_source=("threats", "isolation"),
        split={"train": 510, "calibration": 170, "test": 170},
    )
    logged = json.loads(json.dumps(summary.to_json()))
    assert list(logged)[:5] == ["source", "layout", "rows", "rows_used", "digest"]
    assert logged["fields_not_in_source"] == ["threats", "isolation"]
    assert DataSummary.from_json(logged) == summary
    assert DataSummary(source="synthetic", rows=10, digest="x").to_json()["rows_used"] == 10
