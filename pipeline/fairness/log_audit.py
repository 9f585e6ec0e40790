"""Audit of what was actually screened, from the serving audit log.

Input: one row per screening with the audit attributes, the answers per questionnaire
field, ``labour_probability``, ``sexual_probability``, ``refer`` (the model's
recommendation), ``screener_assessment`` (low/medium/high, recorded before the score),
``decision`` (referred / not_referred / needs_more_information or empty),
``override_reason``, ``created_at`` and, when known, ``screening_id`` and ``outcome`` (the
latest specialist outcome). :func:`screenings_frame` is the adapter point.

Only referred people normally get an outcome (selective labels), so the log alone cannot
say how many victims were not referred. The follow-up protocol of ``docs/responsible-use.md``
follows up a random sample of unreferred people: a screening is in the sample when
:func:`in_follow_up_sample` says so (a hash of its random screening id, so no flag has to be
stored and nobody chooses whom to follow up); their outcomes estimate the victims among the
unreferred.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.outcomes import OTHER_FINDING_OUTCOMES, TRAFFICKING_OUTCOMES, UNKNOWN_OUTCOME
from models.questionnaire import load_questionnaire
from pipeline.fairness.audit import COMPLETENESS, audit_attributes, group_labels
from pipeline.fairness.stats import wilson

PSI_WATCH, PSI_ACT = 0.1, 0.25
SCORE_BINS = 10
LOGGED_PROBABILITIES = {"labour": "labour_probability", "sexual": "sexual_probability"}
"""Column of each outcome's logged probability in the flat log frame (not the generator's ``p_*``)."""
REFERRED = "referred"
VICTIM_OUTCOMES = TRAFFICKING_OUTCOMES
NO_OUTCOME = frozenset({UNKNOWN_OUTCOME})
FOLLOW_UP_RATE = 0.05
MIN_GROUP = 30
SELECTIVE_LABELS = (
    "{unreferred:,} of {screenings:,} screened people were not referred; {without:.0%} of them have no "
    "specialist outcome, so how many victims the screening missed is unknown from referrals alone."
)
FOLLOW_UP_NONE = (
    "No unreferred person of the random follow-up sample (rate {rate:.0%}) has an outcome yet: missed "
    "victims cannot be estimated. See the follow-up protocol in docs/responsible-use.md."
)
FOLLOW_UP_ESTIMATE = (
    "Random follow-up: {victims} of {followed} followed-up unreferred people were victims ({share:.1%}, 95% "
    "interval {lower:.1%}-{upper:.1%}), about {missed:,.0f} missed victims among the {unreferred:,} unreferred."
)
MISSING_LOG_COLUMN = "screening rows lack column(s) {columns}; see pipeline.fairness.log_audit for the layout"


def screenings_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Rows of the audit log as a frame; nested ``answers``/``context``/``audit`` dicts are flattened."""
    if isinstance(rows, pd.DataFrame):
        return rows.copy()
    flat = []
    for row in rows:
        item = {k: v for k, v in row.items() if not isinstance(v, Mapping)}
        for v in row.values():
            if isinstance(v, Mapping):
                item.update(v)
        flat.append(item)
    return pd.DataFrame(flat)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins (smoothed by 1e-4)."""
    e = np.asarray(expected, dtype=float) + 1e-4
    a = np.asarray(actual, dtype=float) + 1e-4
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def _psi_verdict(value: float) -> str:
    return "large shift" if value >= PSI_ACT else "moderate shift" if value >= PSI_WATCH else "stable"


def _drift(frame: pd.DataFrame, training: pd.DataFrame) -> dict[str, Any]:
    q = load_questionnaire()
    out: dict[str, Any] = {"fields": [], "scores": []}
    for f in q.feature_fields:
        if f.id not in frame.columns or f.id not in training.columns:
            continue
        levels = list(f.levels)
        exp = training[f.id].astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
        act = frame[f.id].fillna("unknown").astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
        value = psi(exp, act)
        out["fields"].append({"field": f.id, "psi": value, "verdict": _psi_verdict(value)})
    out["fields"].sort(key=lambda r: -r["psi"])
    for outcome, column in LOGGED_PROBABILITIES.items():
        if column in training.columns and column in frame.columns:
            edges = np.unique(np.quantile(training[column], np.linspace(0, 1, SCORE_BINS + 1)))
            edges[0], edges[-1] = -np.inf, np.inf
            exp = np.histogram(training[column], bins=edges)[0]
            act = np.histogram(frame[column].astype(float), bins=edges)[0]
            value = psi(exp, act)
            out["scores"].append({"outcome": outcome, "psi": value, "verdict": _psi_verdict(value)})
    return out


def in_follow_up_sample(screening_id: str, rate: float = FOLLOW_UP_RATE) -> bool:
    """Whether a screening is in the random follow-up sample: the first 8 bytes of the SHA-256 of its id
    read as a fraction below ``rate``. Screening ids are random, so the sample is too."""
    digest = hashlib.sha256(str(screening_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _rate(hits: pd.Series, among: pd.Series) -> float:
    n = int(among.sum())
    return float((hits & among).sum() / n) if n else math.nan


def _by_group(frame: pd.DataFrame, groups: pd.Series) -> list[dict[str, Any]]:
    rows = []
    for group in sorted(groups.unique()):
        m = groups == group
        sub = frame[m]
        row: dict[str, Any] = {"group": group, "screenings": int(m.sum())}
        for outcome, column in LOGGED_PROBABILITIES.items():
            p = sub[column].astype(float)
            row[f"{outcome}_score_median"] = float(p.median())
        row["model_would_refer"] = float(frame["_model_refer"][m].mean())
        row["decided"] = int(frame["_decided"][m].sum())
        row["referral_rate"] = _rate(frame["_referred"], m & frame["_decided"])
        row["override_share"] = _rate(frame["_override"], m & frame["_decided"])
        row["confirmation_rate"] = _rate(frame["_victim"], m & frame["_referred"] & frame["_has_outcome"])
        row["unreferred_without_outcome"] = _rate(~frame["_has_outcome"], m & ~frame["_referred"])
        assessment = sub["screener_assessment"].fillna("not recorded").value_counts(normalize=True)
        for level in ("low", "medium", "high", "not recorded"):
            row[f"assessment_{level.replace(' ', '_')}"] = float(assessment.get(level, 0.0))
        rows.append(row)
    return rows


def _overrides_by_group(frame: pd.DataFrame, groups: pd.Series) -> list[dict[str, Any]]:
    """Per group and reason (e.g. answers unreliable by interview language): overrides and their share
    of the group's decisions."""
    over = frame["_override"]
    reasons = (
        frame["override_reason"].fillna("not given")
        if "override_reason" in frame
        else pd.Series("not given", index=frame.index)
    )
    decided = frame["_decided"].groupby(groups).sum()
    table = pd.DataFrame({"group": groups[over], "reason": reasons[over]}).value_counts().reset_index(name="n")
    rows = []
    for group, reason, n in table.itertuples(index=False):
        n_decided = int(decided.get(group, 0))
        rows.append(
            {
                "group": str(group),
                "reason": str(reason),
                "overrides": int(n),
                "share_of_decisions": int(n) / n_decided if n_decided else math.nan,
            }
        )
    return rows


def _follow_up(frame: pd.DataFrame, rate: float) -> dict[str, Any]:
    """Victims among the unreferred, estimated from the random follow-up sample when it has outcomes."""
    unreferred = ~frame["_referred"]
    if "screening_id" in frame:
        sample = frame["screening_id"].astype(str).map(lambda i: in_follow_up_sample(i, rate)).astype(bool)
    else:
        sample = pd.Series(False, index=frame.index)
    followed = unreferred & sample & frame["_has_outcome"]
    out: dict[str, Any] = {
        "rate": rate,
        "unreferred": int(unreferred.sum()),
        "in_sample": int((unreferred & sample).sum()),
        "followed_up": int(followed.sum()),
    }
    if not followed.any():
        out["text"] = FOLLOW_UP_NONE.format(rate=rate)
        return out
    victims = int((followed & frame["_victim"]).sum())
    lower, upper = wilson(victims, int(followed.sum()))
    share = victims / int(followed.sum())
    out.update(
        victims=victims,
        victim_share=share,
        victim_share_lower=lower,
        victim_share_upper=upper,
        estimated_missed=share * out["unreferred"],
    )
    out["text"] = FOLLOW_UP_ESTIMATE.format(
        victims=victims,
        followed=out["followed_up"],
        share=share,
        lower=lower,
        upper=upper,
        missed=out["estimated_missed"],
        unreferred=out["unreferred"],
    )
    return out


def audit_screenings(
    *,
    rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
    training_frame: pd.DataFrame | None = None,
    follow_up_rate: float = FOLLOW_UP_RATE,
) -> dict[str, Any]:
    """Scores, referrals, confirmations, overrides and drift by group for what was screened.

    ``training_frame`` (the model's training data, with ``labour_probability`` and
    ``sexual_probability`` if score drift is wanted) enables the PSI drift section;
    ``follow_up_rate`` is the rate of the random follow-up sample (:func:`in_follow_up_sample`).
    """
    frame = screenings_frame(rows)
    required = {*LOGGED_PROBABILITIES.values(), "refer", "screener_assessment", "decision"}
    missing = sorted(required - set(frame.columns))
    if missing:
        raise ValueError(MISSING_LOG_COLUMN.format(columns=missing))
    frame["decision"] = frame["decision"].where(frame["decision"].notna() & (frame["decision"] != ""), None)
    outcome = frame["outcome"] if "outcome" in frame else pd.Series(None, index=frame.index, dtype=object)
    frame["_decided"] = frame["decision"].notna()
    frame["_model_refer"] = frame["refer"].astype(bool)
    frame["_referred"] = frame["decision"] == REFERRED
    frame["_override"] = (
        frame["_decided"]
        & (frame["_model_refer"] != frame["_referred"])
        & (frame["decision"] != "needs_more_information")
    )
    frame["_has_outcome"] = outcome.notna() & ~outcome.isin(NO_OUTCOME)
    frame["_victim"] = outcome.isin(VICTIM_OUTCOMES)
    frame["_other_finding"] = outcome.isin(OTHER_FINDING_OUTCOMES)  # not trafficking, and not "none"
    attributes = [a for a in audit_attributes() if a in frame.columns]
    if all(f.id in frame.columns for f in load_questionnaire().indicators):
        attributes.append(COMPLETENESS)
    if "referral_tier" in frame.columns:
        attributes.append("referral_tier")
    for a in attributes:
        if a in frame:
            frame[a] = frame[a].fillna("unknown")
    groups = {a: group_labels(frame, a) for a in attributes}
    reasons = (
        frame.loc[frame["_override"], "override_reason"].fillna("not given")
        if "override_reason" in frame
        else pd.Series()
    )
    decided, unreferred = frame["_decided"], ~frame["_referred"]
    result: dict[str, Any] = {
        "kind": "screenings",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "screenings": len(frame),
        "period": {
            "from": str(frame["created_at"].min()) if "created_at" in frame else None,
            "to": str(frame["created_at"].max()) if "created_at" in frame else None,
        },
        "overall": {
            "model_would_refer": float(frame["_model_refer"].mean()) if len(frame) else math.nan,
            "referral_rate": _rate(frame["_referred"], decided),
            "override_share": _rate(frame["_override"], decided),
            "confirmation_rate": _rate(frame["_victim"], frame["_referred"] & frame["_has_outcome"]),
            "other_finding_rate": _rate(frame["_other_finding"], frame["_referred"] & frame["_has_outcome"]),
            "unreferred_without_outcome": _rate(~frame["_has_outcome"], unreferred),
        },
        "override_reasons": {str(k): int(v) for k, v in reasons.value_counts().items()},
        "by_group": {a: _by_group(frame, g) for a, g in groups.items()},
        "overrides_by_group": {a: _overrides_by_group(frame, g) for a, g in groups.items()},
        "selective_labels": {
            "unreferred": int(unreferred.sum()),
            "unreferred_without_outcome": int((unreferred & ~frame["_has_outcome"]).sum()),
        },
        "follow_up": _follow_up(frame, follow_up_rate),
        "drift": _drift(frame, training_frame) if training_frame is not None else None,
        "psi_thresholds": {"moderate": PSI_WATCH, "large": PSI_ACT},
    }
    result["selective_labels"]["text"] = SELECTIVE_LABELS.format(
        unreferred=result["selective_labels"]["unreferred"],
        screenings=len(frame),
        without=result["overall"]["unreferred_without_outcome"] if unreferred.any() else 0.0,
    )
    gaps = {}
    for attribute, rows_ in result["by_group"].items():
        model = [g["model_would_refer"] for g in rows_ if g["screenings"] >= MIN_GROUP]
        people = [g["referral_rate"] for g in rows_ if g["screenings"] >= MIN_GROUP and np.isfinite(g["referral_rate"])]
        gaps[attribute] = {
            "model_referral_gap": float(max(model) - min(model)) if model else math.nan,
            "decision_referral_gap": float(max(people) - min(people)) if people else math.nan,
        }
    result["referral_gaps"] = gaps
    return result
