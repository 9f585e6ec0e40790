"""The promotion gate: every branch of its decision."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.fairness.audit import AuditSettings
from pipeline.fairness.gate import BLOCK, PASS, PEOPLE_ATTRIBUTES, GateSettings, fairness_gate
from tests.support.fairness import fair_frame

ROWS = 20000
SETTINGS = GateSettings.from_config(load_config())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return fair_frame(rows=ROWS, seed=11)


def _flagged(model, frame: pd.DataFrame, outcome: str = "labour") -> np.ndarray:
    p = model.predict_proba(model.encoder.transform(frame).to_numpy())[outcome]
    return p >= model.outcomes[outcome].referral["support"]


def test_gate_passes_a_fair_model(model, frame) -> None:
    result = fairness_gate(model, frame, SETTINGS, attributes=["gender"])
    assert result.verdict == PASS, result.blocking
    assert result.blocking == ()
    assert result.checked > 0
    assert json.loads(json.dumps(result.to_json()))["verdict"] == PASS


def test_gate_blocks_when_women_victims_are_missed_more(model, frame) -> None:
    frame = frame.copy()
    rng = np.random.default_rng(0)
    missed = (frame["gender"] == "woman").to_numpy() & ~_flagged(model, frame) & (rng.random(len(frame)) < 0.05)
    frame.loc[missed, "is_labour"] = 1
    result = fairness_gate(model, frame, SETTINGS, attributes=["gender"])
    assert result.verdict == BLOCK
    assert any("miss rate of gender = woman" in r and r.startswith("fairness: labour") for r in result.blocking)


def test_gate_blocks_when_the_reference_group_is_missed_more(model, frame) -> None:
    frame = frame.copy()
    rng = np.random.default_rng(1)
    missed = (frame["gender"] == "man").to_numpy() & ~_flagged(model, frame) & (rng.random(len(frame)) < 0.05)
    frame.loc[missed, "is_labour"] = 1
    result = fairness_gate(model, frame, SETTINGS, attributes=["gender"])
    fnr = [c for c in result.disparities if c.metric == "fnr"]
    assert fnr
    assert all(c.group == "woman" and c.reference == "man" and c.ratio < 1 for c in fnr)


def _more_false_alarms_among_women(model, frame: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    negatives = (
        (frame["gender"] == "woman").to_numpy()
        & ~_flagged(model, frame)
        & (frame["is_labour"] == 0).to_numpy()
        & (frame["is_sexual"] == 0).to_numpy()
    )
    # Drop 70% of the women (no victims among them) the model rightly leaves alone: its false alarms
    # among women rise, misses stay.
    return frame.loc[~(negatives & (rng.random(len(frame)) < 0.7))].reset_index(drop=True)


def test_false_alarm_disparities_warn_by_default(model, frame) -> None:
    result = fairness_gate(model, _more_false_alarms_among_women(model, frame), SETTINGS, attributes=["gender"])
    assert result.verdict == PASS, result.blocking
    assert any(c.metric == "fpr" and c.group == "woman" for c in result.warnings)
    assert any("false-alarm rate of gender = woman" in w for w in result.to_json()["warnings"])


def test_gate_blocks_on_false_alarms_when_configured(model, frame) -> None:
    settings = dataclasses.replace(SETTINGS, block_on=("fnr", "fpr"))
    result = fairness_gate(model, _more_false_alarms_among_women(model, frame), settings, attributes=["gender"])
    assert any(c.metric == "fpr" and c.group == "woman" for c in result.disparities)
    assert any("false-alarm rate of gender = woman" in r for r in result.blocking)
    assert result.warnings == ()


def test_the_gate_guards_people_not_interview_settings(model, frame) -> None:
    """Attributes of the interview are audited and reported, never gated (a short interview misses more
    by design); the people's attributes and the intersections where exploitation hides are gated."""
    assert "gender × sector" in PEOPLE_ATTRIBUTES
    assert "gender × destination" in PEOPLE_ATTRIBUTES
    assert not {"interview_completeness", "migrant_status", "interview_language", "site_type"} & set(PEOPLE_ATTRIBUTES)
    result = fairness_gate(model, frame, SETTINGS)
    assert {c.attribute for c in (*result.disparities, *result.unverified, *result.not_checked)} <= set(
        PEOPLE_ATTRIBUTES
    )


def test_power_rule_blocks_a_large_group_the_data_could_not_check(model, frame) -> None:
    frame = frame.copy()
    women = frame.index[frame["gender"] == "woman"]
    frame.loc[women, "is_labour"] = 0
    frame.loc[women[:12], "is_labour"] = 1  # 40% of people, 12 victims: too few to see a miss-rate gap
    result = fairness_gate(model, frame, SETTINGS, attributes=["gender"])
    assert result.verdict == BLOCK
    assert any(c.metric == "fnr" and c.group == "woman" for c in result.unverified)
    assert any("power rule" in r and "gender = woman" in r for r in result.blocking)
    assert not result.disparities


def test_a_small_group_that_cannot_be_checked_is_listed_but_does_not_block(model, frame) -> None:
    frame = frame.copy()
    frame.loc[frame.index[:50], "gender"] = "trans_nonconforming"
    result = fairness_gate(model, frame, SETTINGS, attributes=["gender"])
    assert result.verdict == PASS, result.blocking
    assert {c.group for c in result.not_checked} == {"trans_nonconforming"}
    assert any("trans_nonconforming" in s for s in result.to_json()["not_checked_small_groups"])


def test_power_rule_limit_is_a_setting(model, frame) -> None:
    strict = fairness_gate(model, frame, dataclasses.replace(SETTINGS, max_detectable=1.3), attributes=["gender"])
    assert strict.verdict == BLOCK
    assert strict.unverified
    assert not strict.disparities


def test_the_gate_takes_its_rules_from_the_training_config_and_records_them() -> None:
    config = load_config()
    rules = config.promotion.fairness.model_copy(update={"block_on": ("miss_rate", "false_alarm_rate")})
    both = config.model_copy(update={"promotion": config.promotion.model_copy(update={"fairness": rules})})
    assert GateSettings.from_config(both).block_on == ("fnr", "fpr")
    assert SETTINGS.block_on == ("fnr",)
    assert (SETTINGS.max_detectable, SETTINGS.min_share) == (rules.max_detectable, rules.min_share)
    assert SETTINGS.audit == AuditSettings.from_config(config, n_boot=0)
    # The promotion record keeps the settings it always kept, in the same order.
    assert list(SETTINGS.to_json()) == [
        "attributes",
        "block_on",
        "tolerance",
        "min_cases",
        "alpha",
        "power",
        "max_detectable",
        "min_share",
        "seed",
    ]
