"""The promotion decision as a pure function: every branch, ``--accept-risk`` included."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.config import PromotionConfig, load_config
from pipeline.errors import CommandError
from pipeline.fairness.gate import GateResult, GateSettings
from pipeline.promote import EMPTY_REASON, OutcomeComparison, Scores, accepted_reason, decide

CONFIG = PromotionConfig(max_auroc_drop=0.01, max_log_loss_increase=0.02)
BASE = Scores(auroc=0.80, log_loss=0.200, ece=0.01)
UNFAIR = "labour: miss rate of gender = man is 2.0 times the reference's"


def _gate(*blocking: str) -> GateResult:
    return GateResult(
        blocking=tuple(blocking),
        disparities=(),
        warnings=(),
        unverified=(),
        not_checked=(),
        checked=4,
        rows=1000,
        thresholds={"labour": 0.05},
        settings=GateSettings.from_config(load_config()),
    )


def _both(scores: Scores) -> dict[str, Scores]:
    return {"labour": scores, "sexual": BASE}


def test_first_model_without_a_champion_is_promoted_when_the_gate_passes() -> None:
    d = decide(challenger=_both(BASE), champion=None, gate=_gate(), config=CONFIG)
    assert (d.promote, d.passed, d.reasons, d.accepted_risk) == (True, True, (), None)
    assert d.comparison["labour"] == OutcomeComparison(challenger=BASE, champion=None)
    assert d.gate_verdict == "passed"


def test_a_challenger_within_the_margins_is_promoted() -> None:
    within = Scores(auroc=0.80 - 0.009, log_loss=0.200 * 1.019, ece=0.5)
    d = decide(challenger=_both(within), champion=_both(BASE), gate=_gate(), config=CONFIG)
    assert d.promote
    assert d.passed
    assert d.reasons == ()
    assert d.comparison["labour"].champion == BASE


def test_an_auroc_drop_beyond_the_margin_refuses() -> None:
    worse = Scores(auroc=0.80 - 0.011, log_loss=0.200, ece=0.01)
    d = decide(challenger=_both(worse), champion=_both(BASE), gate=_gate(), config=CONFIG)
    assert not d.promote
    assert not d.passed
    assert len(d.reasons) == 1
    assert d.reasons[0].startswith("labour: AUROC 0.7890 is worse than the champion's 0.8000")


def test_a_log_loss_increase_beyond_the_margin_refuses() -> None:
    worse = Scores(auroc=0.80, log_loss=0.200 * 1.021, ece=0.01)
    d = decide(challenger=_both(worse), champion=_both(BASE), gate=_gate(), config=CONFIG)
    assert not d.promote
    assert len(d.reasons) == 1
    assert d.reasons[0].startswith("labour: log-loss 0.2042 is worse")
    assert d.reasons[0].endswith("by more than 2%")


def test_both_metrics_worse_give_both_reasons_and_the_gate_adds_its_own() -> None:
    worse = Scores(auroc=0.70, log_loss=0.300, ece=0.01)
    d = decide(challenger=_both(worse), champion=_both(BASE), gate=_gate(UNFAIR), config=CONFIG)
    assert not d.promote
    assert [r.split(":")[1].split()[0] for r in d.reasons[:2]] == ["AUROC", "log-loss"]
    assert d.reasons[2] == UNFAIR
    assert d.gate_verdict == "refused"


def test_an_outcome_the_champion_does_not_score_is_not_compared() -> None:
    worse = Scores(auroc=0.5, log_loss=0.9, ece=0.2)
    d = decide(challenger=_both(worse), champion={"sexual": BASE}, gate=_gate(), config=CONFIG)
    assert d.promote
    assert d.comparison["labour"].champion is None


def test_the_fairness_gate_alone_refuses() -> None:
    d = decide(challenger=_both(BASE), champion=_both(BASE), gate=_gate(UNFAIR), config=CONFIG)
    assert (d.promote, d.passed, d.reasons) == (False, False, (UNFAIR,))


def test_accept_risk_promotes_a_refused_challenger_and_keeps_the_reason() -> None:
    d = decide(challenger=_both(BASE), champion=None, gate=_gate(UNFAIR), config=CONFIG, accepted_risk="reviewed")
    assert (d.promote, d.passed, d.accepted_risk, d.reasons) == (True, False, "reviewed", (UNFAIR,))
    record = d.to_json()
    assert record["promoted"] is True
    assert record["accepted_risk"] == "reviewed"
    assert record["refusal_reasons"] == [UNFAIR]
    assert record["fairness_gate"]["verdict"] == "refused"


def test_accept_risk_without_a_refusal_is_not_recorded_as_an_accepted_risk() -> None:
    d = decide(challenger=_both(BASE), champion=_both(BASE), gate=_gate(), config=CONFIG, accepted_risk="just in case")
    assert d.promote
    assert d.passed
    assert d.accepted_risk is None


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_reason_is_refused(blank: str) -> None:
    with pytest.raises(CommandError, match="needs a reason") as info:
        decide(challenger=_both(BASE), champion=None, gate=_gate(UNFAIR), config=CONFIG, accepted_risk=blank)
    assert str(info.value) == EMPTY_REASON
    assert accepted_reason(None) is None
    assert accepted_reason("ok") == "ok"


def test_the_logged_record_keeps_its_keys_and_round_trips_through_json() -> None:
    d = decide(challenger=_both(BASE), champion=_both(BASE), gate=_gate(), config=CONFIG)
    record = json.loads(json.dumps(d.to_json()))
    assert set(record) == {"promoted", "accepted_risk", "refusal_reasons", "comparison", "fairness_gate"}
    assert record["comparison"]["labour"] == {"challenger": BASE.to_json(), "champion": BASE.to_json()}
    only_new = decide(challenger=_both(BASE), champion=None, gate=_gate(), config=CONFIG).to_json()
    assert set(only_new["comparison"]["sexual"]) == {"challenger"}


def test_an_accepted_risk_goes_first_among_the_cards_caveats_and_leaves_the_card_read_unchanged() -> None:
    from pipeline.modelcard import AcceptedRisk, DataSummary, IntendedUse, ModelCard, ModelDetails

    card = ModelCard(
        model_details=ModelDetails(
            name="tarozu-screening",
            version="1",
            estimator="sparse_logistic",
            outcomes=("labour",),
            features=(),
            protected_attributes_as_features=(),
            why_protected_attributes_are_features=None,
            config={},
        ),
        intended_use=IntendedUse(screening_model=True),
        data=DataSummary(source="synthetic", rows=10, rows_used=10, digest="x"),
        metrics={},
        ethical_considerations=(),
        caveats_and_recommendations=("Trained on synthetic data.",),
        accepted_risks=(AcceptedRisk(at="2026-11-01T10:00:00Z", reason="earlier", overridden=()),),
    )
    amended = card.with_accepted_risk(at="2026-12-01T10:00:00Z", reason="reviewed", overridden=(UNFAIR,))
    assert amended.caveats_and_recommendations == (
        f"Promoted on 2026-12-01T10:00:00Z despite: {UNFAIR}. Accepted risk: reviewed",
        "Trained on synthetic data.",
    )
    logged = amended.to_json()
    assert logged["accepted_risks"][1] == {"at": "2026-12-01T10:00:00Z", "reason": "reviewed", "overridden": [UNFAIR]}
    assert list(logged)[-2:] == ["caveats_and_recommendations", "accepted_risks"]
    assert ModelCard.from_json(json.loads(json.dumps(logged))) == amended
    assert card.caveats_and_recommendations == ("Trained on synthetic data.",)
    assert len(card.accepted_risks) == 1
    assert "accepted_risks" not in dataclasses.replace(card, accepted_risks=()).to_json()
