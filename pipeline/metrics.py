"""Classification metrics for screening, with bootstrap intervals.

One place for every metric that training, promotion and the fairness audit report, so
the three never disagree on what "sensitivity" or "calibration error" means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.stats import rankdata

Metric = Callable[[np.ndarray, np.ndarray], float]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """ECE with ``bins`` equal-width probability bins, weighted by bin size."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.size == 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, weights=y, minlength=bins) - np.bincount(index, weights=p, minlength=bins))
    return float(gap.sum() / count.sum())


def _rate(num: np.ndarray, den: np.ndarray) -> float:
    d = float(den.sum())
    return float(num.sum()) / d if d else float("nan")


def threshold_metrics(threshold: float) -> dict[str, Metric]:
    """Sensitivity, specificity, PPV, NPV and selection rate of ``p >= threshold``."""

    def flagged(p: np.ndarray) -> np.ndarray:
        return np.asarray(p) >= threshold

    return {
        "sensitivity": lambda y, p: _rate(flagged(p) & (y == 1), y == 1),
        "specificity": lambda y, p: _rate(~flagged(p) & (y == 0), y == 0),
        "ppv": lambda y, p: _rate(flagged(p) & (y == 1), flagged(p)),
        "npv": lambda y, p: _rate(~flagged(p) & (y == 0), ~flagged(p)),
        "selection_rate": lambda y, p: float(np.mean(flagged(p))) if len(p) else float("nan"),
    }


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) identity, ties counted half.

    Equal to ``sklearn.metrics.roc_auc_score`` (a test checks it) without its input
    validation, which dominates the cost of a bootstrap.
    """
    y = np.asarray(y)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (area under the PR curve, step-wise), as scikit-learn defines it."""
    y = np.asarray(y)
    positives = int(y.sum())
    if positives == 0 or positives == y.size:
        return float("nan")
    order = np.argsort(-np.asarray(p, dtype=float), kind="mergesort")
    scores = np.asarray(p, dtype=float)[order]
    hits = y[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tp = np.cumsum(hits)[last]
    precision = tp / (last + 1)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    y = np.asarray(y)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p)))) if y.size else float("nan")


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y)) ** 2)) if len(y) else float("nan")


def score_metrics() -> dict[str, Metric]:
    """Threshold-free metrics of probabilities."""
    return {
        "auroc": auroc,
        "pr_auc": average_precision,
        "log_loss": mean_log_loss,
        "brier": brier,
        "ece": lambda y, p: expected_calibration_error(y, p),
    }


def all_metrics(threshold: float) -> dict[str, Metric]:
    return {**score_metrics(), **threshold_metrics(threshold)}


# ---------------------------------------------------------------- count-weighted (bootstrap) forms
# A bootstrap resample is a column of multinomial counts; each metric below is the same
# definition as above with those counts as weights, computed for all resamples at once.
# Unit weights reproduce the functions above exactly (tests/pipeline/test_metrics.py).
METRICS: tuple[str, ...] = (
    "prevalence",
    "selection_rate",
    "sensitivity",
    "fnr",
    "fpr",
    "ppv",
    "auroc",
    "ece",
)
ECE_BINS = 10


def resample_counts(n: int, *, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, n_boot)`` counts: how often each row appears in each resample."""
    if n == 0:
        return np.zeros((0, n_boot))
    idx = rng.integers(0, n, size=(n_boot, n)) * n_boot + np.arange(n_boot)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n, n_boot).astype(float)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def weighted_metrics(
    y: np.ndarray,
    p: np.ndarray,
    *,
    threshold: float,
    weights: np.ndarray,
    metrics: tuple[str, ...] | list[str] = METRICS,
) -> dict[str, np.ndarray]:
    """Each metric of ``metrics`` for each column of ``weights`` (shape ``(n, k)``).

    Definitions follow :mod:`pipeline.metrics`: flagged means ``p >= threshold``; ECE uses
    10 equal-width bins; AUROC counts ties as one half (Mann-Whitney).
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1:
        w = w[:, None]
    flag = (p >= threshold).astype(float)
    total = w.sum(axis=0)
    pos = y @ w
    neg = total - pos
    sel = flag @ w
    tp = (y * flag) @ w
    fp = sel - tp
    out = {
        "prevalence": _ratio(pos, total),
        "selection_rate": _ratio(sel, total),
        "sensitivity": _ratio(tp, pos),
        "fpr": _ratio(fp, neg),
        "ppv": _ratio(tp, sel),
    }
    out["fnr"] = 1.0 - out["sensitivity"]
    out["specificity"] = 1.0 - out["fpr"]
    out["npv"] = _ratio(neg - fp, total - sel)
    wanted = set(metrics)
    if len(p) == 0:
        for name in ("auroc", "ece", "pr_auc", "log_loss", "brier"):
            out[name] = np.full(w.shape[1], np.nan)
        return out
    if "log_loss" in wanted:
        q = np.clip(p, 1e-15, 1 - 1e-15)
        out["log_loss"] = _ratio(-(y * np.log(q) + (1 - y) * np.log1p(-q)) @ w, total)
    if "brier" in wanted:
        out["brier"] = _ratio(((p - y) ** 2) @ w, total)
    if "pr_auc" in wanted:
        order = np.argsort(-p, kind="mergesort")
        yd, pd_, wd = y[order], p[order], w[order]
        last = np.r_[np.flatnonzero(np.diff(pd_)), len(pd_) - 1]
        tp_cum = np.cumsum(wd * yd[:, None], axis=0)[last]
        all_cum = np.cumsum(wd, axis=0)[last]
        precision = _ratio(tp_cum, all_cum)
        recall = _ratio(tp_cum, np.broadcast_to(pos, tp_cum.shape))
        steps = np.diff(np.vstack([np.zeros((1, w.shape[1])), recall]), axis=0)
        out["pr_auc"] = np.where(pos > 0, np.nansum(steps * precision, axis=0), np.nan)
    if wanted & {"auroc", "ece"}:
        order = np.argsort(p, kind="stable")
        y, p, w = y[order], p[order], w[order]
    if "ece" in wanted:
        index = np.minimum((p * ECE_BINS).astype(int), ECE_BINS - 1)
        starts = np.flatnonzero(np.r_[True, np.diff(index) != 0])
        gap = np.abs(np.add.reduceat(w * (y - p)[:, None], starts, axis=0)).sum(axis=0)
        out["ece"] = _ratio(gap, total)
    if "auroc" in wanted:
        ties = np.flatnonzero(np.r_[True, np.diff(p) != 0])
        pos_u = np.add.reduceat(w * y[:, None], ties, axis=0)
        neg_u = np.add.reduceat(w, ties, axis=0) - pos_u
        below = np.cumsum(neg_u, axis=0) - neg_u
        out["auroc"] = _ratio((pos_u * (below + 0.5 * neg_u)).sum(axis=0), pos * neg)
    return out


def bootstrap_metrics(
    y: np.ndarray,
    p: np.ndarray,
    *,
    metrics: Mapping[str, Metric],
    threshold: float,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Each metric's point estimate and percentile bootstrap interval.

    ``threshold`` is the operating threshold of the threshold metrics. Returns
    ``{metric: {"value", "lower", "upper"}}``; resamples that leave a metric undefined (one
    class only) are dropped from its interval.
    """
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    counts = resample_counts(len(y), n_boot=n_boot, rng=rng)
    weighted = weighted_metrics(y, p, threshold=threshold, weights=counts, metrics=tuple(metrics)) if n_boot else {}
    alpha = (1 - level) / 2
    out: dict[str, dict[str, float]] = {}
    for name, fn in metrics.items():
        values = np.asarray(weighted.get(name, []), dtype=float)
        values = values[~np.isnan(values)]
        lower, upper = np.quantile(values, [alpha, 1 - alpha]) if values.size else (np.nan, np.nan)
        out[name] = {"value": fn(y, p), "lower": float(lower), "upper": float(upper)}
    return out


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` for MLflow metric names."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
            out[name] = float(value)
    return out
