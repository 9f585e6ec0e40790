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


def bootstrap_metrics(
    y: np.ndarray,
    p: np.ndarray,
    *,
    metrics: Mapping[str, Metric],
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Each metric's point estimate and percentile bootstrap interval.

    Returns ``{metric: {"value", "lower", "upper"}}``; resamples that leave a metric
    undefined (one class only) are dropped from its interval.
    """
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in metrics}
    n = len(y)
    for _ in range(n_boot if n else 0):
        idx = rng.integers(0, n, n)
        for name, fn in metrics.items():
            samples[name].append(fn(y[idx], p[idx]))
    alpha = (1 - level) / 2
    out: dict[str, dict[str, float]] = {}
    for name, fn in metrics.items():
        values = np.asarray(samples[name], dtype=float)
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
