"""The promotion gate blocks on a real FNR disparity and passes a fair model."""

from __future__ import annotations

import json

import numpy as np

from pipeline.fairness.gate import fairness_gate
from tests.fairness.conftest import fair_frame


def test_gate_passes_a_fair_model(model) -> None:
    frame = fair_frame(rows=20000, seed=11)
    result = fairness_gate(model, frame, n_boot=100)
    assert result.blocking == []
    json.dumps(result.summary)
    assert result.summary["checked"]["observed"]["n_comparisons"] > 0


def test_gate_blocks_when_women_victims_are_missed(model) -> None:
    frame = fair_frame(rows=20000, seed=12)
    rng = np.random.default_rng(0)
    probs = model.predict_proba(model.encoder.transform(frame).to_numpy())["labour"]
    missed = (frame["gender"] == "woman").to_numpy() & (probs < model.outcomes["labour"].threshold)
    extra = missed & (rng.random(len(frame)) < 0.05)
    frame.loc[extra, "is_labour"] = 1
    result = fairness_gate(model, frame, n_boot=100)
    assert any("gender='woman'" in reason and "labour" in reason for reason in result.blocking), result.blocking
