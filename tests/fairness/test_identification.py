"""Identification bias on the generator's scenarios, and the audit's false-alarm rate."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.data.synthetic import generate
from pipeline.fairness.audit import DISPARITY, audit_model
from tests.fairness.conftest import make_model

SEEDS = (0, 1, 2, 3, 4)
ROWS = 20000
ALPHA = 0.05
SLACK = 0.02


@pytest.fixture(scope="module")
def bias_audit() -> dict:
    frame = generate(rows=2 * ROWS, seed=7, scenario="bias-gender")
    return audit_model(
        model=make_model(),
        frame=frame,
        n_boot=100,
        metrics=["fnr"],
        attributes=["gender", "region", "gender × age_band"],
    )


def test_bias_gender_flags_under_identified_women_labour_and_men_sexual(bias_audit) -> None:
    flags = bias_audit["identification_bias"]["flags"]
    gender = {(f["group"], f["outcome"]) for f in flags if f["attribute"] == "gender"}
    assert gender == {("woman", "labour"), ("man", "sexual")}
    for f in flags:
        if f["attribute"] == "gender × age_band":
            expected = "woman" if f["outcome"] == "labour" else "man"
            assert f["group"].startswith(expected), f


def test_default_scenario_flags_nothing_beyond_chance() -> None:
    """False alarms over 5 seeds: identification flags, and FNR disparities between random groups."""
    model = make_model()
    alarms = comparisons = 0
    for seed in SEEDS:
        frame = generate(rows=ROWS, seed=seed)
        # A null attribute: random groups have equal FNR in truth, so every disparity is a false alarm.
        frame["citizenship"] = np.random.default_rng(seed).choice(["TJK", "UZB", "KGZ"], size=ROWS)
        audit = audit_model(
            model=model, frame=frame, n_boot=100, metrics=["fnr"], attributes=["gender", "region", "citizenship"]
        )
        assert audit["identification_bias"]["flags"] == []
        for section in ("observed", "truth"):
            for outcome in ("labour", "sexual"):
                for row in audit[section]["attributes"]["citizenship"]["outcomes"][outcome]:
                    c = row["comparisons"].get("fnr")
                    if c is not None and c["enough_data"]:
                        comparisons += 1
                        alarms += c["verdict"] == DISPARITY
    rate = alarms / max(comparisons, 1)
    print(f"false-alarm rate: {alarms}/{comparisons} = {rate:.3f}")
    assert comparisons >= 20
    assert rate <= ALPHA + SLACK
