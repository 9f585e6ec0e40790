"""Audit of what was actually screened, from the serving audit log (no outcome labels).

Input: one row per screening with the audit attributes, the answers per questionnaire
field, ``labour_probability``, ``sexual_probability``, ``refer`` (the model's
recommendation), ``screener_assessment`` (low/medium/high, recorded before the score),
``decision`` (referred / not_referred / needs_more_information or empty),
``override_reason`` and ``created_at``. The serving audit-log database was not yet
available when this was written; :func:`screenings_frame` is the adapter point.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.questionnaire import load_questionnaire
from pipeline.fairness.audit import audit_attributes

PSI_WATCH, PSI_ACT = 0.1, 0.25
SCORE_BINS = 10
PROBABILITY_COLUMNS = {"labour": "labour_probability", "sexual": "sexual_probability"}
REFERRED = "referred"
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
    for outcome, column in PROBABILITY_COLUMNS.items():
        if column in training.columns and column in frame.columns:
            edges = np.unique(np.quantile(training[column], np.linspace(0, 1, SCORE_BINS + 1)))
            edges[0], edges[-1] = -np.inf, np.inf
            exp = np.histogram(training[column], bins=edges)[0]
            act = np.histogram(frame[column].astype(float), bins=edges)[0]
            value = psi(exp, act)
            out["scores"].append({"outcome": outcome, "psi": value, "verdict": _psi_verdict(value)})
    return out


def _by_group(frame: pd.DataFrame, attribute: str) -> list[dict[str, Any]]:
    groups = frame[attribute].fillna("unknown").astype(str)
    rows = []
    decided = frame["decision"].notna()
    model_refer = frame["refer"].astype(bool)
    referred = frame["decision"] == REFERRED
    override = decided & (model_refer != referred) & (frame["decision"] != "needs_more_information")
    for group in sorted(groups.unique()):
        m = (groups == group).to_numpy()
        sub = frame[m]
        row: dict[str, Any] = {"group": group, "screenings": int(m.sum())}
        for outcome, column in PROBABILITY_COLUMNS.items():
            p = sub[column].astype(float)
            row[f"{outcome}_score_median"] = float(p.median())
            row[f"{outcome}_score_p90"] = float(p.quantile(0.9))
        row["model_would_refer"] = float(model_refer[m].mean())
        row["decided"] = int(decided[m].sum())
        row["screeners_referred"] = float(referred[m & decided].mean()) if decided[m].any() else float("nan")
        row["override_share"] = float(override[m & decided].mean()) if decided[m].any() else float("nan")
        assessment = sub["screener_assessment"].fillna("not recorded").value_counts(normalize=True)
        for level in ("low", "medium", "high", "not recorded"):
            row[f"assessment_{level.replace(' ', '_')}"] = float(assessment.get(level, 0.0))
        rows.append(row)
    return rows


def audit_screenings(
    *,
    rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
    training_frame: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Score distributions, referrals, overrides and drift by group for what was screened.

    ``training_frame`` (the model's training data, with ``labour_probability`` and
    ``sexual_probability`` if score drift is wanted) enables the PSI drift section.
    """
    frame = screenings_frame(rows)
    required = {*PROBABILITY_COLUMNS.values(), "refer", "screener_assessment", "decision"}
    missing = sorted(required - set(frame.columns))
    if missing:
        raise ValueError(MISSING_LOG_COLUMN.format(columns=missing))
    frame["decision"] = frame["decision"].where(frame["decision"].notna() & (frame["decision"] != ""), None)
    attributes = [a for a in audit_attributes() if a in frame.columns]
    decided = frame["decision"].notna()
    model_refer = frame["refer"].astype(bool)
    override = (
        decided & (model_refer != (frame["decision"] == REFERRED)) & (frame["decision"] != "needs_more_information")
    )
    reasons = frame.loc[override, "override_reason"].fillna("not given") if "override_reason" in frame else pd.Series()
    result: dict[str, Any] = {
        "kind": "screenings",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "screenings": len(frame),
        "period": {
            "from": str(frame["created_at"].min()) if "created_at" in frame else None,
            "to": str(frame["created_at"].max()) if "created_at" in frame else None,
        },
        "overall": {
            "model_would_refer": float(model_refer.mean()) if len(frame) else float("nan"),
            "screeners_referred": float((frame["decision"] == REFERRED)[decided].mean())
            if decided.any()
            else float("nan"),
            "override_share": float(override[decided].mean()) if decided.any() else float("nan"),
        },
        "override_reasons": {str(k): int(v) for k, v in reasons.value_counts().items()},
        "by_group": {a: _by_group(frame, a) for a in attributes},
        "drift": _drift(frame, training_frame) if training_frame is not None else None,
        "psi_thresholds": {"moderate": PSI_WATCH, "large": PSI_ACT},
    }
    gaps = {}
    for attribute, groups in result["by_group"].items():
        model = [g["model_would_refer"] for g in groups if g["screenings"] >= 30]
        people = [
            g["screeners_referred"] for g in groups if g["screenings"] >= 30 and np.isfinite(g["screeners_referred"])
        ]
        gaps[attribute] = {
            "model_referral_gap": float(max(model) - min(model)) if model else float("nan"),
            "decision_referral_gap": float(max(people) - min(people)) if people else float("nan"),
        }
    result["referral_gaps"] = gaps
    return result
