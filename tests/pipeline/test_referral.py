"""Referral tiers set against capacity: thresholds chosen on the calibration split meet the
settings there, and the model card reports every tier on the test split with intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.referral import TIERS, person_tiers
from models.screening import ScreeningModel
from pipeline.config import ReferralConfig
from pipeline.referral import ReferralSummary, TierReport, choose_tiers, tier_report

NRM, SUPPORT, INFORMATION = TIERS.index("nrm"), TIERS.index("support"), TIERS.index("information")


def population(seed: int, n: int = 20_000) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Calibrated probabilities of two outcomes and labels drawn from them (about 8% and 3%)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.0, size=n)
    p = {
        "labour": 1 / (1 + np.exp(-(-3.2 + 1.4 * z + rng.normal(0, 0.8, n)))),
        "sexual": 1 / (1 + np.exp(-(-4.5 + 1.2 * z + rng.normal(0, 1.2, n)))),
    }
    y = {o: (rng.random(n) < v).astype(int) for o, v in p.items()}
    return p, y


def check_meets(p: dict[str, np.ndarray], y: dict[str, np.ndarray], config: ReferralConfig, thresholds: dict) -> None:  # type: ignore[type-arg]
    tiers = person_tiers(p, thresholds)
    victim = (y["labour"] == 1) | (y["sexual"] == 1)
    assert np.mean(tiers == NRM) <= config.nrm_max_share
    assert np.mean(tiers[victim] >= SUPPORT) >= config.sensitivity
    assert np.mean(tiers[victim] >= INFORMATION) >= config.information_sensitivity
    for o in p:
        t = thresholds[o]
        assert t["information"] <= t["support"] <= t["nrm"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "config",
    [ReferralConfig(), ReferralConfig(nrm_max_share=0.02, sensitivity=0.8, information_sensitivity=0.95)],
    ids=["default", "tighter"],
)
def test_thresholds_meet_capacity_and_sensitivity_on_the_split_they_were_chosen_on(
    seed: int, config: ReferralConfig
) -> None:
    p, y = population(seed)
    choice = choose_tiers(p, y, config)
    check_meets(p, y, config, choice.thresholds)
    # ...and not by leaving capacity unused: one more victim's threshold would overfill nrm,
    # and support could not start any higher.
    tiers = person_tiers(p, choice.thresholds)
    assert np.mean(tiers == NRM) > config.nrm_max_share - 0.005
    victim = (y["labour"] == 1) | (y["sexual"] == 1)
    assert np.mean(tiers[victim] >= SUPPORT) < config.sensitivity + 0.005
    assert choice.achieved.nrm_share == pytest.approx(np.mean(tiers == NRM))


def test_a_tier_catches_each_type_alike() -> None:
    """The thresholds of a tier share one per-outcome sensitivity: labour and sexual victims alike."""
    p, y = population(3)
    choice = choose_tiers(p, y, ReferralConfig())
    for tier in ("nrm", "support"):
        caught = [np.mean(p[o][y[o] == 1] >= choice.thresholds[o][tier]) for o in p]
        assert abs(caught[0] - caught[1]) < 0.02, (tier, caught)


def test_no_capacity_means_an_empty_nrm_tier() -> None:
    p, y = population(4)
    config = ReferralConfig(nrm_max_share=1e-6)
    choice = choose_tiers(p, y, config)
    assert all(t["nrm"] > 1 for t in choice.thresholds.values())
    assert not np.any(person_tiers(p, choice.thresholds) == NRM)
    check_meets(p, y, config, choice.thresholds)


def test_tier_report_counts_every_person_once_with_intervals() -> None:
    p, y = population(5)
    choice = choose_tiers(p, y, ReferralConfig())
    test_p, test_y = population(6)
    report = tier_report(test_p, test_y, choice.thresholds, n_boot=50, seed=0)
    tiers = report.tiers
    assert list(tiers) == ["nrm", "support", "information", "none"]
    assert sum(e.people for e in tiers.values()) == report.people == 20_000
    assert sum(e.victims for e in tiers.values()) == report.victims
    assert sum(e.rate.value or 0.0 for e in tiers.values()) == pytest.approx(1.0)
    assert sum(e.sensitivity.value or 0.0 for e in tiers.values()) == pytest.approx(1.0)
    assert tiers["none"].sensitivity_at_or_above.value == pytest.approx(1.0)
    for e in tiers.values():
        for share in (e.rate, e.ppv, e.sensitivity, e.sensitivity_at_or_above):
            assert None not in (share.lower, share.value, share.upper)
            assert share.lower <= share.value <= share.upper  # type: ignore[operator]
    # PPV falls from tier to tier: the tiers are ordered by the strength of the signs.
    ppv = [tiers[t].ppv.value for t in ("nrm", "support", "information", "none")]
    assert ppv == sorted(ppv, reverse=True)  # type: ignore[type-var]
    # The card keeps the report through one JSON form.
    logged = json.loads(json.dumps(report.to_json()))
    assert list(logged["tiers"]["nrm"]) == [
        "people",
        "victims",
        "rate",
        "ppv",
        "sensitivity",
        "sensitivity_at_or_above",
    ]
    assert TierReport.from_json(logged) == report


def test_trained_model_carries_tiers_that_meet_the_settings_on_its_calibration_split(trained) -> None:  # type: ignore[no-untyped-def]
    from pipeline.config import load_config
    from pipeline.train import referral_summary

    config = load_config()
    splits, model = trained.splits, trained.model  # the real fit sets the tiers on the calibration split
    scores = model.score_codes(model.encoder.transform(splits.calibration).to_numpy())
    p = {o: scores[o].probability for o in model.outcome_names}
    y = {o: splits.calibration[f"is_{o}"].to_numpy() for o in model.outcome_names}
    check_meets(p, y, config.referral, {o: model.outcomes[o].referral for o in model.outcome_names})
    assert model.metadata["referral"]["settings"] == config.referral.model_dump(mode="json")
    # The thresholds survive the file, and the test split is reported per tier.
    again = ScreeningModel.from_dict(model.to_dict())
    assert {o: again.outcomes[o].referral for o in again.outcome_names} == {
        o: model.outcomes[o].referral for o in model.outcome_names
    }
    summary = referral_summary(model, splits.test, config)
    assert summary.test.people == len(splits.test)
    assert set(summary.test.tiers) == set(TIERS)
    logged = json.loads(json.dumps(summary.to_json()))
    assert list(logged) == ["settings", "levels", "calibration", "combine", "thresholds", "test"]
    assert ReferralSummary.from_json(logged) == summary


def test_an_older_model_file_is_refused_with_a_reason(trained) -> None:  # type: ignore[no-untyped-def]
    raw = trained.model.to_dict()
    raw["format"] = "tarozu-screening-model/2"
    for outcome in raw["outcomes"].values():
        del outcome["referral"]
    with pytest.raises(ValueError, match=r"made before referral tiers.*retrain"):
        ScreeningModel.from_dict(raw)
    raw["format"] = "something else"
    with pytest.raises(ValueError, match="not a Tarozu screening model"):
        ScreeningModel.from_dict(raw)


def test_thresholds_out_of_order_are_refused(trained) -> None:  # type: ignore[no-untyped-def]
    model = trained.model
    with pytest.raises(ValueError, match="ascending"):
        model.with_referral({o: {"information": 0.3, "support": 0.2, "nrm": 0.5} for o in model.outcome_names})
