"""Small real :class:`ScreeningModel` objects for the serving tests, built without MLflow.

The tables are random but shaped so that the known effects hold: answering ``yes`` to a
strong indicator (``documents_withheld``, ``debt_bondage``...) clearly raises the labour
risk, ``sexual_violence`` and ``no_choice_of_clients`` raise the sexual risk, and
``no`` lowers both a little, and ``dont_know`` weighs little. Questions not asked, declined
answers and unrecorded context weigh exactly 0, as the model requires. Audit attributes are
never fields of these models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.interview import CLASSES
from models.questionnaire import DECLINED, DONT_KNOW, STATUS_FIELD, load_questionnaire
from models.screening import ASKED_ANSWERS, AnswerModel, OutcomeModel, ScreeningModel
from serving.registry import RegisteredModel

STRENGTH_EFFECT = {"strong": 1.6, "medium": 0.6, "weak": 0.2}
DONT_KNOW_CAP = 0.5
DONT_KNOW_WEIGHT = DONT_KNOW_CAP / len(load_questionnaire().indicators)
"""Each don't-know's weight: all of a case's don't-know answers together reach the cap, never more."""
SEXUAL_MARKERS = ("sexual_violence", "no_choice_of_clients", "deceived_marriage")
REFERRAL_THRESHOLDS = {"information": 0.08, "support": 0.2, "nrm": 0.4}


def _silenced(field: Any, table: np.ndarray) -> np.ndarray:
    """``table`` with the non-answers at 0 and don't know at its small share of the cap."""
    table[-1] = 0.0
    if field.kind == "indicator":
        table[field.levels.index(DECLINED)] = 0.0
        table[field.levels.index(DONT_KNOW)] = DONT_KNOW_WEIGHT
    return table


def _outcome(rng: np.random.Generator, outcome: str, *, n_members: int) -> OutcomeModel:
    tables: list[np.ndarray] = []
    fields = load_questionnaire().feature_fields
    for field in fields:
        table = rng.normal(0.0, 0.05, size=len(field.levels))
        if field.kind == "indicator":
            levels = list(field.levels)
            effect = STRENGTH_EFFECT[field.delphi_strength(outcome) or "weak"]
            if outcome == "sexual":
                effect = effect * (1.5 if field.id in SEXUAL_MARKERS else 0.3)
            table[levels.index("yes")] += effect
            table[levels.index("no")] -= 0.15 * effect
            table[levels.index(DONT_KNOW)] = DONT_KNOW_WEIGHT
            table[levels.index(DECLINED)] = 0.0
        table[-1] = 0.0  # the reference level: not asked, not recorded
        tables.append(table)
    members = [
        [_silenced(field, t + rng.normal(0.0, 0.1, size=t.shape)) for field, t in zip(fields, tables, strict=True)]
        for _ in range(n_members)
    ]
    return OutcomeModel(
        base_value=-3.0 if outcome == "labour" else -4.0,
        contributions=tables,
        threshold=0.2,
        high_threshold=0.5,
        ensemble_base_values=rng.normal(-3.0, 0.1, size=n_members),
        ensemble_contributions=[np.vstack([m[j] for m in members]) for j in range(len(tables))] if n_members else [],
        estimator="test-additive",
        # Referral tiers: support starts at the threshold (so refer means what it always meant
        # for this model), a specialist assessment further up, safe-migration information below.
        referral=dict(REFERRAL_THRESHOLDS),
    )


def make_model(seed: int = 0, *, n_members: int = 20) -> ScreeningModel:
    """A screening model over the questionnaire's feature fields for both outcomes."""
    rng = np.random.default_rng(seed)
    fields = [f.id for f in load_questionnaire().feature_fields]
    outcomes = {name: _outcome(rng, name, n_members=n_members) for name in ("labour", "sexual")}
    return ScreeningModel(
        fields=fields,
        outcomes=outcomes,
        answer_model=make_answer_model(),
        dont_know_cap=DONT_KNOW_CAP,
        metadata={"seed": seed},
    )


def make_answer_model() -> AnswerModel:
    """Victims answer yes more often; everyone sometimes does not know or declines."""
    q = load_questionnaire()
    n_status = len(q.field(STATUS_FIELD).levels)
    p = np.zeros((n_status, len(CLASSES), len(q.indicators), len(ASKED_ANSWERS)))
    for k, klass in enumerate(CLASSES):
        yes = 0.05 if klass == "none" else 0.35
        p[:, k, :, :] = [yes, 0.9 - yes, 0.07, 0.03]
    return AnswerModel(indicators=q.indicator_ids, p=p, settled_flip_chance=0.05)


def make_registered(version: str = "1", *, seed: int = 0, name: str = "tarozu-screening") -> RegisteredModel:
    """The model as the registry would return it, with a small model card."""
    card: dict[str, Any] = {
        "intended_use": "decision support for referral to a specialist assessment",
        "metrics": {"labour": {"auc": 0.8}, "sexual": {"auc": 0.75}},
    }
    return RegisteredModel(
        model=make_model(seed), name=name, version=version, alias="champion", run_id=f"run-{version}", card=card
    )


def with_base_shift(model: ScreeningModel, shift: float) -> ScreeningModel:
    """``model`` with every base value (model and ensemble) moved by ``shift`` log-odds.

    With a large shift an empty form scores above the threshold: what the rule "never refer on
    non-answers alone" is about.
    """
    outcomes = {
        name: OutcomeModel(
            base_value=o.base_value + shift,
            contributions=[t.copy() for t in o.contributions],
            threshold=o.threshold,
            high_threshold=o.high_threshold,
            ensemble_base_values=o.ensemble_base_values + shift,
            ensemble_contributions=[t.copy() for t in o.ensemble_contributions],
            estimator=o.estimator,
            referral=dict(o.referral),
        )
        for name, o in model.outcomes.items()
    }
    return ScreeningModel(
        fields=model.fields,
        outcomes=outcomes,
        answer_model=model.answer_model,
        dont_know_cap=model.dont_know_cap,
        metadata={**model.metadata, "base_shift": shift},
    )
