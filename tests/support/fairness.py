"""Small screening models and frames for the fairness audit (no network, no training run)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.calibration import threshold_for_sensitivity
from models.questionnaire import load_questionnaire
from models.screening import OutcomeModel, ScreeningModel
from pipeline.data.columns import LABELS
from tests.support.factories import make_answer_model

STRENGTH_EFFECT = {"strong": 1.6, "medium": 0.6, "weak": 0.2}
OUTCOMES = ("labour", "sexual")


def make_model(*, threshold: float | dict[str, float] = 0.05) -> ScreeningModel:
    """An additive model over the indicators (context and audit fields weigh 0): yes raises both outcomes."""
    q = load_questionnaire()
    tables = []
    for field in q.feature_fields:
        table = np.zeros(len(field.levels))
        if field.kind == "indicator":
            table[list(field.levels).index("yes")] = STRENGTH_EFFECT[field.strength or "weak"]
        tables.append(table)
    thresholds = threshold if isinstance(threshold, dict) else dict.fromkeys(OUTCOMES, threshold)
    outcomes = {
        # The support tier (what a settled screening refers, and what the audit judges) at the threshold.
        name: OutcomeModel(
            base_value=-4.0,
            contributions=list(tables),
            threshold=thresholds[name],
            high_threshold=max(0.5, thresholds[name]),
            referral={"information": thresholds[name], "support": thresholds[name], "nrm": max(0.5, thresholds[name])},
        )
        for name in OUTCOMES
    }
    return ScreeningModel(
        fields=[f.id for f in q.feature_fields],
        outcomes=outcomes,
        answer_model=make_answer_model(),
        dont_know_cap=0.5,
    )


def tuned_model(frame: pd.DataFrame, *, sensitivity: float = 0.9) -> ScreeningModel:
    """:func:`make_model` with each outcome's threshold set for ``sensitivity`` on ``frame`` (a calibration split)."""
    model = make_model()
    probs = model.predict_proba(model.encoder.transform(frame).to_numpy())
    return make_model(
        threshold={
            o: threshold_for_sensitivity(probs[o], frame[LABELS[o]].to_numpy(), sensitivity=sensitivity)
            for o in OUTCOMES
        }
    )


def fair_frame(*, rows: int, seed: int) -> pd.DataFrame:
    """Generated answers, labels drawn from the model's own probabilities, audit attributes random.

    Attributes independent of everything else mean every group has the same FNR in truth.
    """
    from pipeline.data.synthetic import generate

    frame = generate(rows=rows, seed=seed)
    rng = np.random.default_rng(seed)
    probs = make_model().predict_proba(make_model().encoder.transform(frame).to_numpy())
    for outcome, column in (("labour", "is_labour"), ("sexual", "is_sexual")):
        frame[column] = (rng.random(rows) < probs[outcome]).astype("int64")
    frame = frame.drop(columns=["true_labour", "true_sexual", "p_labour", "p_sexual"])
    frame["gender"] = rng.choice(["man", "woman"], size=rows, p=[0.6, 0.4])
    return frame
