"""Fairness audit of a screening model: metrics by group, disparities, identification bias.

Per audit attribute (and gender x age band), per group and per outcome the audit reports
the metrics of :data:`METRICS` at the model's operating threshold with bootstrap intervals,
and compares each group with a reference group (by default the largest). A comparison is
judged on the ratio group/reference against the tolerance band, with its interval widened
for the number of comparisons (Bonferroni, per metric), and gets one verdict:

- ``disparity``: the whole corrected interval lies outside the tolerance band;
- ``ok``: the whole corrected interval lies inside it;
- ``insufficient data``: the group or the reference has fewer than ``min_group_size``
  rows, the ratio is undefined, or the interval is too wide to decide.

Parity of the false negative rate (missed victims) is the primary criterion; parity of the
false positive rate (wrongful flags) is secondary. On synthetic data with ground truth the
same metrics are computed against the true state, and an identification-bias section
compares how many true victims of each group carry an observed label.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from models.questionnaire import load_questionnaire
from models.screening import ScreeningModel
from pipeline.metrics import METRICS, Metric, resample_counts, score_metrics, threshold_metrics, weighted_metrics
from pipeline.modeling import LABELS, TRUTH

CONTEXT_ATTRIBUTES: tuple[str, ...] = ("destination",)
INTERSECTIONS: tuple[tuple[str, str], ...] = (("gender", "age_band"),)
JOIN = " × "
PRIMARY = "fnr"
SECONDARY = "fpr"
OK, DISPARITY, INSUFFICIENT = "ok", "disparity", "insufficient data"
UNDER_IDENTIFIED = "under-identified"
MIN_POSITIVES = 5
CRITERIA = (
    "Primary criterion: parity of the false negative rate (missed victims) between groups. "
    "Secondary: parity of the false positive rate (people wrongly flagged for a specialist "
    "interview). Other metrics are shown for context."
)
CORRECTION = (
    "Bonferroni: each comparison's interval is widened to level 1 - alpha/k, where k is the "
    "number of comparisons of that metric with enough data; the interval is normal on the log "
    "ratio with the bootstrap standard error."
)

BAD_TOLERANCE = "tolerance must be (lower, upper) with 0 < lower < 1 < upper, not {tolerance!r}"
MISSING_COLUMN = "the data has no column {column!r}; an audit needs the questionnaire fields and labels"
BAD_REFERENCE = "reference group {group!r} of {attribute!r} is not in the data; groups are {groups}"
BAD_METRIC = "unknown metric(s) {names}; allowed are {allowed}"


@dataclass(frozen=True)
class _Settings:
    tolerance: tuple[float, float]
    min_group_size: int
    n_boot: int
    alpha: float
    seed: int


def audit_attributes() -> tuple[str, ...]:
    """Attributes audited one by one: the questionnaire's audit fields, then destination."""
    return (*load_questionnaire().audit_ids, *CONTEXT_ATTRIBUTES)


def _group_labels(frame: pd.DataFrame, attribute: str) -> pd.Series:
    if attribute in frame.columns:
        return frame[attribute].astype(str)
    parts = attribute.split(JOIN)
    for part in parts:
        if part not in frame.columns:
            raise ValueError(MISSING_COLUMN.format(column=part))
    out = frame[parts[0]].astype(str)
    for part in parts[1:]:
        out = out + JOIN + frame[part].astype(str)
    return out


def metric_functions(threshold: float) -> dict[str, Metric]:
    """The audited metrics as functions ``(y, p) -> float`` built from :mod:`pipeline.metrics`."""
    tm = threshold_metrics(threshold)
    sm = score_metrics()

    def prevalence(yt: np.ndarray, _p: np.ndarray) -> float:
        return float(np.mean(yt)) if len(yt) else float("nan")

    def fnr(yt: np.ndarray, pp: np.ndarray) -> float:
        return 1.0 - tm["sensitivity"](yt, pp)

    def fpr(yt: np.ndarray, pp: np.ndarray) -> float:
        return 1.0 - tm["specificity"](yt, pp)

    return {
        "prevalence": prevalence,
        "selection_rate": tm["selection_rate"],
        "sensitivity": tm["sensitivity"],
        "fnr": fnr,
        "fpr": fpr,
        "ppv": tm["ppv"],
        "auroc": sm["auroc"],
        "ece": sm["ece"],
    }


def metric_frame(*, y: np.ndarray, p: np.ndarray, groups: pd.Series, threshold: float) -> MetricFrame:
    """Fairlearn's MetricFrame of :func:`metric_functions` (the reference the audit is tested against)."""
    return MetricFrame(metrics=metric_functions(threshold), y_true=y, y_pred=p, sensitive_features=groups.to_numpy())


def _point_metrics(y: np.ndarray, p: np.ndarray, groups: pd.Series, threshold: float) -> pd.DataFrame:
    """Per-group point estimates: ``metric_frame(...).by_group``, computed directly.

    Fairlearn 0.15 stacks every column as an object array for each metric call (about 55 ms
    per call on 30,000 rows), which made a full audit take minutes; this is the same
    computation, and ``tests/fairness/test_audit.py`` checks it equals MetricFrame's.
    """
    functions = metric_functions(threshold)
    codes = groups.to_numpy()
    rows = {}
    for group in pd.unique(codes):
        mask = codes == group
        rows[group] = {name: fn(y[mask], p[mask]) for name, fn in functions.items()}
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def _reference(groups: pd.Series, attribute: str, reference: str | Mapping[str, str]) -> str:
    counts = groups.value_counts()
    wanted = reference.get(attribute, "largest") if isinstance(reference, Mapping) else reference
    if wanted == "largest":
        return str(counts.index[0])
    if wanted not in counts.index:
        raise ValueError(BAD_REFERENCE.format(group=wanted, attribute=attribute, groups=sorted(counts.index)))
    return str(wanted)


def _interval(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size < 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _log_se(group: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """Bootstrap standard errors of the log ratio and of the difference."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(group) - np.log(ref)
    finite = log_ratio[np.isfinite(log_ratio)]
    diff = (group - ref)[np.isfinite(group - ref)]
    se_log = float(np.std(finite, ddof=1)) if finite.size >= 0.9 * len(group) and finite.size > 1 else float("nan")
    se_diff = float(np.std(diff, ddof=1)) if diff.size > 1 else float("nan")
    return se_log, se_diff


def judge(ratio_lower: float, ratio_upper: float, tolerance: tuple[float, float]) -> str:
    """Verdict of a ratio's corrected interval against the tolerance band."""
    lo, hi = tolerance
    if not (np.isfinite(ratio_lower) and np.isfinite(ratio_upper)):
        return INSUFFICIENT
    if ratio_upper < lo or ratio_lower > hi:
        return DISPARITY
    if lo <= ratio_lower and ratio_upper <= hi:
        return OK
    return INSUFFICIENT


def _compare(rows: list[dict[str, Any]], *, metrics: Sequence[str], settings: _Settings) -> dict[str, int]:
    """Fill each row's ``comparisons`` in place, Bonferroni-corrected per metric; returns k per metric."""
    pending: dict[str, list[dict[str, Any]]] = {m: [] for m in metrics}
    for row in rows:
        row["comparisons"] = {}
        for metric in metrics:
            if row["is_reference"]:
                continue
            value, ref = row["_point"][metric], row["_ref_point"][metric]
            se_log, se_diff = _log_se(row["_boot"][metric], row["_ref_boot"][metric])
            entry: dict[str, Any] = {
                "difference": value - ref,
                "ratio": value / ref if ref > 0 else float("nan"),
                "_se_log": se_log,
                "_se_diff": se_diff,
            }
            enough = row["size"] >= settings.min_group_size and row["_ref_size"] >= settings.min_group_size
            defined = value > 0 and ref > 0 and np.isfinite(se_log)
            entry["enough_data"] = bool(enough)
            row["comparisons"][metric] = entry
            if enough and defined:
                pending[metric].append(entry)
    counts = {}
    for metric, entries in pending.items():
        k = max(len(entries), 1)
        counts[metric] = len(entries)
        z = NormalDist().inv_cdf(1 - settings.alpha / (2 * k))
        for entry in entries:
            log_r = float(np.log(entry["ratio"]))
            entry["ratio_lower"] = float(np.exp(log_r - z * entry["_se_log"]))
            entry["ratio_upper"] = float(np.exp(log_r + z * entry["_se_log"]))
            entry["difference_lower"] = entry["difference"] - z * entry["_se_diff"]
            entry["difference_upper"] = entry["difference"] + z * entry["_se_diff"]
    for row in rows:
        for entry in row["comparisons"].values():
            entry.setdefault("ratio_lower", float("nan"))
            entry.setdefault("ratio_upper", float("nan"))
            entry.setdefault("difference_lower", float("nan"))
            entry.setdefault("difference_upper", float("nan"))
            if not entry["enough_data"]:
                entry["verdict"] = INSUFFICIENT
            else:
                entry["verdict"] = judge(entry["ratio_lower"], entry["ratio_upper"], settings.tolerance)
            entry.pop("_se_log")
            entry.pop("_se_diff")
    return counts


def _attribute_section(
    *,
    groups: pd.Series,
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    reference: str,
    metrics: Sequence[str],
    settings: _Settings,
    counts: dict[str, np.ndarray],
) -> list[dict[str, Any]]:
    points = _point_metrics(y, p, groups, threshold)
    codes = groups.to_numpy()
    rows: list[dict[str, Any]] = []
    for group in points.index:
        mask = codes == group
        boot = weighted_metrics(
            y[mask], p[mask], threshold=threshold, weights=counts[str(group)], metrics=list(metrics)
        )
        point = {m: float(points.loc[group, m]) for m in metrics}
        rows.append(
            {
                "group": str(group),
                "size": int(mask.sum()),
                "positives": int(y[mask].sum()),
                "is_reference": str(group) == reference,
                "metrics": {
                    m: {
                        "value": point[m],
                        **dict(zip(("lower", "upper"), _interval(boot[m], settings.alpha), strict=True)),
                    }
                    for m in metrics
                },
                "_point": point,
                "_boot": boot,
            }
        )
    ref_row = next(r for r in rows if r["is_reference"])
    for row in rows:
        row["_ref_point"], row["_ref_boot"], row["_ref_size"] = (
            ref_row["_point"],
            ref_row["_boot"],
            ref_row["size"],
        )
    return rows


def group_counts(groups: pd.Series, *, settings: _Settings, attribute: str) -> dict[str, np.ndarray]:
    """Bootstrap counts of each group's rows, resampled within the group (groups independent).

    Seeded by ``(seed, attribute)`` so that every section and outcome of one attribute uses the
    same resamples.
    """
    key = int.from_bytes(attribute.encode("utf-8")[:16].ljust(16, b"\0"), "little")
    rng = np.random.default_rng([settings.seed, key])
    codes = groups.to_numpy()
    return {
        str(g): resample_counts(int((codes == g).sum()), n_boot=settings.n_boot, rng=rng)
        for g in sorted(pd.unique(codes), key=str)
    }


def _clean(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for key in [k for k in row if k.startswith("_")]:
            del row[key]


def _metric_section(
    *,
    frame: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    labels: Mapping[str, str],
    attributes: Sequence[str],
    reference: str | Mapping[str, str],
    metrics: Sequence[str],
    settings: _Settings,
) -> dict[str, Any]:
    all_rows: list[dict[str, Any]] = []
    out: dict[str, Any] = {"attributes": {}}
    for attribute in attributes:
        groups = _group_labels(frame, attribute)
        ref = _reference(groups, attribute, reference)
        counts = group_counts(groups, settings=settings, attribute=attribute)
        entry: dict[str, Any] = {"reference": ref, "outcomes": {}}
        for outcome, column in labels.items():
            rows = _attribute_section(
                groups=groups,
                y=frame[column].to_numpy().astype(int),
                p=scores[outcome],
                threshold=thresholds[outcome],
                reference=ref,
                metrics=metrics,
                settings=settings,
                counts=counts,
            )
            for row in rows:
                row["_key"] = (attribute, outcome)
            entry["outcomes"][outcome] = rows
            all_rows.extend(rows)
        out["attributes"][attribute] = entry
    out["n_comparisons"] = _compare(all_rows, metrics=metrics, settings=settings)
    _clean(all_rows)
    out["disparities"] = [
        {
            "attribute": a,
            "group": r["group"],
            "outcome": o,
            "metric": m,
            **{k: c[k] for k in ("ratio", "ratio_lower", "ratio_upper", "difference")},
        }
        for a, e in out["attributes"].items()
        for o, rows in e["outcomes"].items()
        for r in rows
        for m, c in r["comparisons"].items()
        if c["verdict"] == DISPARITY
    ]
    return out


def identification_bias(
    *,
    frame: pd.DataFrame,
    attributes: Sequence[str],
    reference: str | Mapping[str, str],
    settings: _Settings,
) -> dict[str, Any]:
    """Observed vs true prevalence by group; flags groups whose victims are under-identified.

    The identification rate of a group is observed/true prevalence (the share of its true
    victims that carry a label). Each group's rate is compared with the reference's; a group
    is flagged when the corrected interval of the ratio lies wholly below the tolerance, and
    the reference is flagged when a group's lies wholly above it.
    """
    out: dict[str, Any] = {"attributes": {}, "flags": []}
    entries: list[dict[str, Any]] = []
    for attribute in attributes:
        groups = _group_labels(frame, attribute)
        codes = groups.to_numpy()
        ref = _reference(groups, attribute, reference)
        counts = group_counts(groups, settings=settings, attribute=attribute)
        section: dict[str, Any] = {"reference": ref, "outcomes": {}}
        for outcome in LABELS:
            observed = frame[LABELS[outcome]].to_numpy().astype(float)
            truth = frame[TRUTH[outcome]].to_numpy().astype(float)
            rows: list[dict[str, Any]] = []
            for group in sorted(set(codes), key=lambda g: -int((codes == g).sum())):
                mask = codes == group
                w = counts[str(group)]
                obs_b, true_b = observed[mask] @ w, truth[mask] @ w
                with np.errstate(divide="ignore", invalid="ignore"):
                    rate_b = np.where(true_b > 0, obs_b / np.where(true_b > 0, true_b, 1), np.nan)
                n_true = float(truth[mask].sum())
                rate = float(observed[mask].sum() / n_true) if n_true else float("nan")
                lower, upper = _interval(rate_b, settings.alpha)
                rows.append(
                    {
                        "group": str(group),
                        "size": int(mask.sum()),
                        "is_reference": str(group) == ref,
                        "observed_prevalence": float(observed[mask].mean()),
                        "true_prevalence": float(truth[mask].mean()),
                        "true_positives": int(n_true),
                        "identification_rate": rate,
                        "identification_rate_lower": lower,
                        "identification_rate_upper": upper,
                        "_boot": rate_b,
                    }
                )
            ref_row = next(r for r in rows if r["is_reference"])
            for row in rows:
                row["relative_to_reference"] = {}
                if row["is_reference"]:
                    continue
                enough = (
                    min(row["size"], ref_row["size"]) >= settings.min_group_size
                    and min(row["true_positives"], ref_row["true_positives"]) >= MIN_POSITIVES
                )
                rel = {
                    "ratio": row["identification_rate"] / ref_row["identification_rate"]
                    if ref_row["identification_rate"]
                    else float("nan"),
                    "enough_data": bool(enough),
                }
                se, _ = _log_se(row["_boot"], ref_row["_boot"])
                rel["_se"] = se
                # No variation at all (every victim identified in both groups) is a certain ratio.
                if enough and rel["ratio"] > 0 and not np.isfinite(se):
                    rel["_se"] = (
                        0.0
                        if np.all(row["_boot"] == row["identification_rate"])
                        and np.all(ref_row["_boot"] == ref_row["identification_rate"])
                        else float("nan")
                    )
                row["relative_to_reference"] = rel
                rel["_attribute"], rel["_group"], rel["_outcome"], rel["_ref"] = (
                    attribute,
                    row["group"],
                    outcome,
                    ref,
                )
                entries.append(rel)
            section["outcomes"][outcome] = rows
        out["attributes"][attribute] = section
    usable = [e for e in entries if e["enough_data"] and e["ratio"] > 0 and np.isfinite(e["_se"])]
    k = max(len(usable), 1)
    out["n_comparisons"] = len(usable)
    z = NormalDist().inv_cdf(1 - settings.alpha / (2 * k))
    lo = settings.tolerance[0]
    for e in entries:
        if e in usable:
            log_r = float(np.log(e["ratio"]))
            e["ratio_lower"], e["ratio_upper"] = (
                float(np.exp(log_r - z * e["_se"])),
                float(np.exp(log_r + z * e["_se"])),
            )
            e["verdict"] = judge(e["ratio_lower"], e["ratio_upper"], settings.tolerance)
        else:
            e["ratio_lower"] = e["ratio_upper"] = float("nan")
            e["verdict"] = INSUFFICIENT
        if e["verdict"] == DISPARITY:
            low = e["ratio_upper"] < lo
            out["flags"].append(
                {
                    "attribute": e["_attribute"],
                    "outcome": e["_outcome"],
                    "group": e["_group"] if low else e["_ref"],
                    "relative_to": e["_ref"] if low else e["_group"],
                    "ratio": e["ratio"] if low else 1.0 / e["ratio"],
                }
            )
        for key in ("_se", "_attribute", "_group", "_outcome", "_ref"):
            e.pop(key)
    for section in out["attributes"].values():
        for rows in section["outcomes"].values():
            _clean(rows)
    return out


def model_scores(model: ScreeningModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The model's calibrated probability of each outcome for every row."""
    codes = model.encoder.transform(frame)
    return model.predict_proba(codes.to_numpy())


def audit_model(
    *,
    model: ScreeningModel,
    frame: pd.DataFrame,
    reference: str | Mapping[str, str] = "largest",
    tolerance: tuple[float, float] = (0.8, 1.25),
    min_group_size: int = 30,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    metrics: Sequence[str] = METRICS,
    attributes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Audit ``model`` on ``frame`` by group; returns a JSON-able dict (see the module docstring).

    Parameters
    ----------
    reference : ``"largest"``, a group name, or ``{attribute: group}`` (others: largest).
    tolerance : band of acceptable ratios group/reference.
    min_group_size : smaller groups get ``insufficient data``, never a verdict.
    n_boot, alpha, seed : bootstrap resamples, error rate before correction, random seed.
    metrics, attributes : restrict the audit (the gate checks only ``fnr``).
    """
    lo, hi = tolerance
    if not 0 < lo < 1 < hi:
        raise ValueError(BAD_TOLERANCE.format(tolerance=tolerance))
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(BAD_METRIC.format(names=unknown, allowed=list(METRICS)))
    for column in LABELS.values():
        if column not in frame.columns:
            raise ValueError(MISSING_COLUMN.format(column=column))
    settings = _Settings((float(lo), float(hi)), int(min_group_size), int(n_boot), float(alpha), int(seed))
    if attributes is None:
        attributes = (*audit_attributes(), *(JOIN.join(pair) for pair in INTERSECTIONS))
    scores = model_scores(model, frame)
    outcomes = list(model.outcome_names)
    thresholds = {o: float(model.outcomes[o].threshold) for o in outcomes}
    common: dict[str, Any] = {
        "frame": frame,
        "scores": scores,
        "thresholds": thresholds,
        "attributes": attributes,
        "reference": reference,
        "metrics": list(metrics),
        "settings": settings,
    }
    has_truth = all(TRUTH[o] in frame.columns for o in outcomes)
    result: dict[str, Any] = {
        "kind": "model",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {k: v for k, v in model.metadata.items() if isinstance(v, str | int | float | bool)},
        "rows": len(frame),
        "outcomes": outcomes,
        "thresholds": thresholds,
        "criteria": CRITERIA,
        "primary_metric": PRIMARY,
        "secondary_metric": SECONDARY,
        "correction": CORRECTION,
        "settings": {
            "reference": reference if isinstance(reference, str) else dict(reference),
            "tolerance": list(settings.tolerance),
            "min_group_size": min_group_size,
            "n_boot": n_boot,
            "alpha": alpha,
            "seed": seed,
            "metrics": list(metrics),
        },
        "observed": _metric_section(labels={o: LABELS[o] for o in outcomes}, **common),
        "truth": _metric_section(labels={o: TRUTH[o] for o in outcomes}, **common) if has_truth else None,
        "identification_bias": identification_bias(
            frame=frame, attributes=attributes, reference=reference, settings=settings
        )
        if has_truth
        else None,
    }
    return result
