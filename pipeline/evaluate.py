"""Evaluation on the test split: metrics with intervals, ground truth, Bayes-optimal bounds, plots."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.questionnaire import NOT_ASKED, load_questionnaire
from pipeline.metrics import (
    all_metrics,
    bootstrap_metrics,
    expected_calibration_error,
    mean_log_loss,
    score_metrics,
    threshold_metrics,
)
from pipeline.modeling import GROUND_TRUTH_P, LABELS, TRUTH, OutcomeFit


def evaluate_outcome(
    *,
    fit: OutcomeFit,
    codes: pd.DataFrame,
    test: pd.DataFrame,
    n_boot: int,
    seed: int,
    label_column: str | None = None,
    p_given_inputs: np.ndarray | None = None,
    production: str | None = None,
) -> dict[str, Any]:
    """Every candidate's metrics on the test split, against the observed label and,
    on synthetic data, against the true state; plus the Bayes-optimal bounds.

    Two bounds: the generator's posterior given every recorded field (``bayes_optimal``),
    and, when ``p_given_inputs`` is given, its posterior given only the fields the model
    may use (``bayes_given_inputs``: without the protected attributes, the best any model
    here can do). The gap between the two is the price of leaving those attributes out.
    """
    outcome = fit.outcome
    y_obs = test[label_column or LABELS[outcome]].to_numpy()
    truth = test[TRUTH[outcome]].to_numpy() if TRUTH[outcome] in test else None
    p_true = test[GROUND_TRUTH_P[outcome]].to_numpy() if GROUND_TRUTH_P[outcome] in test else None
    result: dict[str, Any] = {"n": len(test), "prevalence_observed": float(y_obs.mean()), "models": {}}
    if truth is not None:
        result["prevalence_true"] = float(truth.mean())
    asked = questions_asked(test)
    for name, candidate in fit.candidates.items():
        p = candidate.predict_proba(codes)
        entry: dict[str, Any] = {
            "threshold": candidate.threshold,
            "high_threshold": candidate.high_threshold,
            "observed": bootstrap_metrics(
                y_obs,
                p,
                metrics=all_metrics(candidate.threshold),
                threshold=candidate.threshold,
                n_boot=n_boot,
                seed=seed,
            ),
        }
        if truth is not None:
            entry["truth"] = _point(truth, p, candidate.threshold)
        entry["by_questions_asked"] = by_questions_asked(y=y_obs, p=p, asked=asked)
        result["models"][name] = entry
    if production in fit.candidates:
        specificity = result["models"][production]["observed"]["specificity"]["value"]
        for name in BASELINES:
            if name in fit.candidates:
                p = fit.candidates[name].predict_proba(codes)
                result["models"][name]["at_model_specificity"] = at_specificity(
                    y_obs, p, specificity=specificity, n_boot=n_boot, seed=seed
                )
    if p_true is not None and truth is not None:
        bayes_obs = _point(y_obs, p_true, threshold=None)
        bayes_true = _point(truth, p_true, threshold=None)
        result["bayes_optimal"] = {"observed": bayes_obs, "truth": bayes_true}
        for entry in result["models"].values():
            obs = entry["observed"]
            entry["gap_to_bayes"] = _gap(obs, bayes_obs)
        if p_given_inputs is not None:
            inputs_obs = _point(y_obs, p_given_inputs, threshold=None)
            result["bayes_given_inputs"] = {"observed": inputs_obs, "truth": _point(truth, p_given_inputs, None)}
            for entry in result["models"].values():
                entry["gap_to_bayes_given_inputs"] = _gap(entry["observed"], inputs_obs)
    return result


BASELINES: tuple[str, ...] = ("count_screener", "delphi_rule")


def at_specificity(y: np.ndarray, p: np.ndarray, *, specificity: float, n_boot: int, seed: int) -> dict[str, Any]:
    """Sensitivity, specificity and PPV at the lowest threshold whose specificity is at least ``specificity``."""
    negatives = np.sort(p[y == 0])
    levels = np.unique(p)
    below = np.searchsorted(negatives, levels, side="left") / max(len(negatives), 1)
    ok = levels[below >= specificity - 1e-12]
    threshold = float(ok[0]) if ok.size else float("inf")
    metrics = {k: v for k, v in threshold_metrics(threshold).items() if k in ("sensitivity", "specificity", "ppv")}
    return {
        "threshold": threshold,
        **bootstrap_metrics(y, p, metrics=metrics, threshold=threshold, n_boot=n_boot, seed=seed),
    }


ASKED_BINS: tuple[tuple[str, int, int], ...] = (
    ("0_5", 0, 5),
    ("6_15", 6, 15),
    ("16_25", 16, 25),
    ("26_plus", 26, 10_000),
)
"""Bins of the number of questions asked, for calibration by length of interview."""


def questions_asked(frame: pd.DataFrame) -> np.ndarray:
    """How many indicator questions each row's interview asked (declined counts: it was asked)."""
    ids = [i for i in load_questionnaire().indicator_ids if i in frame.columns]
    return (frame[ids] != NOT_ASKED).sum(axis=1).to_numpy()


def by_questions_asked(*, y: np.ndarray, p: np.ndarray, asked: np.ndarray) -> dict[str, dict[str, float]]:
    """Calibration per length of interview: a model must be calibrated for any set of asked questions."""
    out = {}
    for name, low, high in ASKED_BINS:
        rows = (asked >= low) & (asked <= high)
        if rows.sum() == 0:
            continue
        out[name] = {
            "n": int(rows.sum()),
            "observed_rate": float(y[rows].mean()),
            "mean_probability": float(p[rows].mean()),
            "ece": expected_calibration_error(y[rows], p[rows]),
            "log_loss": mean_log_loss(y[rows], p[rows]),
        }
    return out


def _gap(observed: dict[str, Any], bound: dict[str, float]) -> dict[str, float]:
    return {
        "log_loss_ratio": observed["log_loss"]["value"] / bound["log_loss"] - 1.0,
        "auroc_difference": bound["auroc"] - observed["auroc"]["value"],
    }


def _point(y: np.ndarray, p: np.ndarray, threshold: float | None) -> dict[str, float]:
    metrics = score_metrics() if threshold is None else all_metrics(threshold)
    return {name: fn(y, p) for name, fn in metrics.items()}


def make_plots(
    *,
    fits: Mapping[str, OutcomeFit],
    codes: pd.DataFrame,
    test: pd.DataFrame,
    production: str,
    out_dir: Path,
    label_columns: dict[str, str] | None = None,
) -> list[Path]:
    """ROC, PR, reliability, score distributions, global importance and per-indicator shapes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for outcome, fit in fits.items():
        y = test[(label_columns or LABELS)[outcome]].to_numpy()
        probs = {name: c.predict_proba(codes) for name, c in fit.candidates.items()}
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        for name, p in probs.items():
            fpr, tpr, _ = roc_curve(y, p)
            axes[0].plot(fpr, tpr, label=name)
            prec, rec, _ = precision_recall_curve(y, p)
            axes[1].plot(rec, prec, label=name)
            frac, mean_p = calibration_curve(y, p, n_bins=10, strategy="quantile")
            axes[2].plot(mean_p, frac, marker="o", label=name)
        axes[0].plot([0, 1], [0, 1], ls=":", c="grey")
        axes[2].plot([0, 1], [0, 1], ls=":", c="grey")
        axes[0].set(title=f"ROC ({outcome})", xlabel="false positive rate", ylabel="sensitivity")
        axes[1].set(title=f"Precision-recall ({outcome})", xlabel="sensitivity", ylabel="PPV")
        axes[2].set(title=f"Reliability ({outcome})", xlabel="predicted probability", ylabel="observed rate")
        axes[2].set_xscale("symlog", linthresh=0.01)
        axes[2].set_yscale("symlog", linthresh=0.01)
        for ax in axes:
            ax.legend(fontsize=8)
        paths.append(_save(fig, out_dir / f"{outcome}_roc_pr_reliability.png"))

        fig, ax = plt.subplots(figsize=(7, 4.5))
        p = probs[production]
        bins = np.linspace(0, 1, 41).tolist()
        ax.hist(p[y == 0], bins=bins, alpha=0.6, label="observed negative", density=True)
        ax.hist(p[y == 1], bins=bins, alpha=0.6, label="observed positive", density=True)
        ax.axvline(fit.candidates[production].threshold, c="k", ls="--", label="operating threshold")
        ax.set(title=f"Score distributions ({outcome}, {production})", xlabel="probability", yscale="log")
        ax.legend()
        paths.append(_save(fig, out_dir / f"{outcome}_score_distributions.png"))

        est = fit.candidates[production].estimator
        explanation = est.explain(codes)
        importance = np.abs(explanation.values).mean(axis=0) * fit.candidates[production].platt.slope
        order = np.argsort(importance)
        fig, ax = plt.subplots(figsize=(7, 10))
        ax.barh(np.array(explanation.feature_names)[order], importance[order])
        ax.set(title=f"Global importance ({outcome}): mean |contribution|, log-odds")
        paths.append(_save(fig, out_dir / f"{outcome}_importance.png"))

        paths.append(_plot_shapes(plt, fit, codes, outcome, out_dir))
    return paths


def _plot_shapes(plt: Any, fit: OutcomeFit, codes: pd.DataFrame, outcome: str, out_dir: Path) -> Path:
    from models.encoding import FieldEncoder

    encoder = FieldEncoder(list(codes.columns))
    names = [n for n in ("sparse_logistic", "additive_boosting") if n in fit.candidates]
    tables = {
        name: [
            fit.candidates[name].platt.slope * t for t in fit.candidates[name].estimator.shape_table(encoder.categories)
        ]
        for name in names
    }
    n = len(encoder.fields)
    cols = 6
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 2.4), squeeze=False)
    for j, field in enumerate(encoder.fields):
        ax = axes[j // cols][j % cols]
        x = np.arange(len(field.levels))
        for k, name in enumerate(names):
            ax.bar(x + (k - 0.5) * 0.4, tables[name][j], width=0.4, label=name)
        ax.set_xticks(x, list(field.levels), rotation=60, fontsize=6)
        ax.set_title(field.id, fontsize=8)
        ax.axhline(0, c="grey", lw=0.5)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"Per-field shapes ({outcome}): calibrated log-odds contribution of each answer")
    # Fixed spacing: tight_layout measures every tick label of the 48 panels (about 4 s a figure).
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.04, top=0.96, wspace=0.25, hspace=1.1)
    return _save(fig, out_dir / f"{outcome}_shapes.png", tight=False)


def _save(fig: Any, path: Path, *, tight: bool = True) -> Path:
    import matplotlib.pyplot as plt

    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path
