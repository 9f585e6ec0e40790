"""Evaluation on the test split: metrics with intervals, ground truth, Bayes-optimal bounds, plots.

What leaves this stage is an :class:`Evaluation` (frozen dataclasses); the run logs its
:meth:`Evaluation.to_json` as ``evaluation.json`` and :meth:`Evaluation.from_json` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.encoding import FieldEncoder
from models.questionnaire import NOT_ASKED, load_questionnaire
from pipeline.data.columns import GROUND_TRUTH_P, LABELS, TRUTH
from pipeline.metrics import (
    all_metrics,
    bootstrap_metrics,
    expected_calibration_error,
    mean_log_loss,
    score_metrics,
    threshold_metrics,
)
from pipeline.modeling import OutcomeFit

Point = Mapping[str, float]
"""Metrics without intervals, by name (``auroc``, ``log_loss``, ...)."""


@dataclass(frozen=True)
class Interval:
    """A metric's value and its 95% bootstrap interval (NaN bounds: undefined in resamples)."""

    value: float
    lower: float
    upper: float

    def to_json(self) -> dict[str, float]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Interval:
        return cls(value=float(raw["value"]), lower=float(raw["lower"]), upper=float(raw["upper"]))


def _intervals(raw: Mapping[str, Any]) -> dict[str, Interval]:
    return {name: Interval.from_json(entry) for name, entry in raw.items()}


@dataclass(frozen=True)
class Gap:
    """How far a model is from a Bayes-optimal bound: relative log-loss, and AUROC below it."""

    log_loss_ratio: float
    auroc_difference: float

    def to_json(self) -> dict[str, float]:
        return {"log_loss_ratio": self.log_loss_ratio, "auroc_difference": self.auroc_difference}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Gap:
        return cls(log_loss_ratio=float(raw["log_loss_ratio"]), auroc_difference=float(raw["auroc_difference"]))


@dataclass(frozen=True)
class AskedBin:
    """Calibration of the interviews that asked a number of questions in one bin."""

    n: int
    observed_rate: float
    mean_probability: float
    ece: float
    log_loss: float

    def to_json(self) -> dict[str, float]:
        return {
            "n": self.n,
            "observed_rate": self.observed_rate,
            "mean_probability": self.mean_probability,
            "ece": self.ece,
            "log_loss": self.log_loss,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AskedBin:
        return cls(
            n=int(raw["n"]),
            observed_rate=float(raw["observed_rate"]),
            mean_probability=float(raw["mean_probability"]),
            ece=float(raw["ece"]),
            log_loss=float(raw["log_loss"]),
        )


@dataclass(frozen=True)
class OperatingPoint:
    """Metrics with intervals at one threshold (a baseline where it matches the model's specificity)."""

    threshold: float
    metrics: Mapping[str, Interval]

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **{k: v.to_json() for k, v in self.metrics.items()}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OperatingPoint:
        rest = {k: v for k, v in raw.items() if k != "threshold"}
        return cls(threshold=float(raw["threshold"]), metrics=_intervals(rest))


@dataclass(frozen=True)
class Bound:
    """A Bayes-optimal model's metrics against the observed labels and the true state."""

    observed: Point
    truth: Point

    def to_json(self) -> dict[str, dict[str, float]]:
        return {"observed": dict(self.observed), "truth": dict(self.truth)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Bound:
        return cls(observed=dict(raw["observed"]), truth=dict(raw["truth"]))


@dataclass(frozen=True)
class CandidateEvaluation:
    """One candidate model of one outcome on the test split."""

    threshold: float
    high_threshold: float
    observed: Mapping[str, Interval]
    by_questions_asked: Mapping[str, AskedBin]
    truth: Point | None = None
    at_model_specificity: OperatingPoint | None = None
    gap_to_bayes: Gap | None = None
    gap_to_bayes_given_inputs: Gap | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "threshold": self.threshold,
            "high_threshold": self.high_threshold,
            "observed": {k: v.to_json() for k, v in self.observed.items()},
        }
        if self.truth is not None:
            out["truth"] = dict(self.truth)
        out["by_questions_asked"] = {k: v.to_json() for k, v in self.by_questions_asked.items()}
        if self.at_model_specificity is not None:
            out["at_model_specificity"] = self.at_model_specificity.to_json()
        if self.gap_to_bayes is not None:
            out["gap_to_bayes"] = self.gap_to_bayes.to_json()
        if self.gap_to_bayes_given_inputs is not None:
            out["gap_to_bayes_given_inputs"] = self.gap_to_bayes_given_inputs.to_json()
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CandidateEvaluation:
        def optional(key: str, parse: Any) -> Any:
            return None if raw.get(key) is None else parse(raw[key])

        return cls(
            threshold=float(raw["threshold"]),
            high_threshold=float(raw["high_threshold"]),
            observed=_intervals(raw["observed"]),
            by_questions_asked={k: AskedBin.from_json(v) for k, v in raw.get("by_questions_asked", {}).items()},
            truth=optional("truth", dict),
            at_model_specificity=optional("at_model_specificity", OperatingPoint.from_json),
            gap_to_bayes=optional("gap_to_bayes", Gap.from_json),
            gap_to_bayes_given_inputs=optional("gap_to_bayes_given_inputs", Gap.from_json),
        )


@dataclass(frozen=True)
class OutcomeEvaluation:
    """Every candidate of one outcome on the test split, and the Bayes-optimal bounds (generated data)."""

    n: int
    prevalence_observed: float
    models: Mapping[str, CandidateEvaluation]
    prevalence_true: float | None = None
    bayes_optimal: Bound | None = None
    bayes_given_inputs: Bound | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "prevalence_observed": self.prevalence_observed,
            "models": {k: v.to_json() for k, v in self.models.items()},
        }
        if self.prevalence_true is not None:
            out["prevalence_true"] = self.prevalence_true
        if self.bayes_optimal is not None:
            out["bayes_optimal"] = self.bayes_optimal.to_json()
        if self.bayes_given_inputs is not None:
            out["bayes_given_inputs"] = self.bayes_given_inputs.to_json()
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OutcomeEvaluation:
        return cls(
            n=int(raw["n"]),
            prevalence_observed=float(raw["prevalence_observed"]),
            models={k: CandidateEvaluation.from_json(v) for k, v in raw["models"].items()},
            prevalence_true=None if raw.get("prevalence_true") is None else float(raw["prevalence_true"]),
            bayes_optimal=None if raw.get("bayes_optimal") is None else Bound.from_json(raw["bayes_optimal"]),
            bayes_given_inputs=(
                None if raw.get("bayes_given_inputs") is None else Bound.from_json(raw["bayes_given_inputs"])
            ),
        )


@dataclass(frozen=True)
class Evaluation:
    """The evaluation of every outcome of a fit (what the card, the run and the plots read)."""

    outcomes: Mapping[str, OutcomeEvaluation]

    def to_json(self) -> dict[str, Any]:
        """The form logged as ``evaluation.json`` (and kept in the model card's metrics)."""
        return {o: e.to_json() for o, e in self.outcomes.items()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Evaluation:
        return cls(outcomes={o: OutcomeEvaluation.from_json(e) for o, e in raw.items()})


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
) -> OutcomeEvaluation:
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
    asked = questions_asked(test)
    probabilities = {name: candidate.predict_proba(codes) for name, candidate in fit.candidates.items()}
    observed = {
        name: _intervals(
            bootstrap_metrics(
                y_obs,
                p,
                metrics=all_metrics(fit.candidates[name].threshold),
                threshold=fit.candidates[name].threshold,
                n_boot=n_boot,
                seed=seed,
            )
        )
        for name, p in probabilities.items()
    }
    at_point: dict[str, OperatingPoint] = {}
    if production in fit.candidates:
        specificity = observed[str(production)]["specificity"].value
        for name in BASELINES:
            if name in fit.candidates:
                at_point[name] = at_specificity(
                    y_obs, probabilities[name], specificity=specificity, n_boot=n_boot, seed=seed
                )
    bayes_optimal = bayes_given_inputs = None
    if p_true is not None and truth is not None:
        bayes_optimal = Bound(observed=_point(y_obs, p_true, None), truth=_point(truth, p_true, None))
        if p_given_inputs is not None:
            bayes_given_inputs = Bound(
                observed=_point(y_obs, p_given_inputs, None), truth=_point(truth, p_given_inputs, None)
            )
    models = {
        name: CandidateEvaluation(
            threshold=candidate.threshold,
            high_threshold=candidate.high_threshold,
            observed=observed[name],
            truth=None if truth is None else _point(truth, probabilities[name], candidate.threshold),
            by_questions_asked=by_questions_asked(y=y_obs, p=probabilities[name], asked=asked),
            at_model_specificity=at_point.get(name),
            gap_to_bayes=None if bayes_optimal is None else _gap(observed[name], bayes_optimal.observed),
            gap_to_bayes_given_inputs=(
                None if bayes_given_inputs is None else _gap(observed[name], bayes_given_inputs.observed)
            ),
        )
        for name, candidate in fit.candidates.items()
    }
    return OutcomeEvaluation(
        n=len(test),
        prevalence_observed=float(y_obs.mean()),
        prevalence_true=None if truth is None else float(truth.mean()),
        models=models,
        bayes_optimal=bayes_optimal,
        bayes_given_inputs=bayes_given_inputs,
    )


BASELINES: tuple[str, ...] = ("count_screener", "delphi_rule")


def at_specificity(y: np.ndarray, p: np.ndarray, *, specificity: float, n_boot: int, seed: int) -> OperatingPoint:
    """Sensitivity, specificity and PPV at the lowest threshold whose specificity is at least ``specificity``."""
    negatives = np.sort(p[y == 0])
    levels = np.unique(p)
    below = np.searchsorted(negatives, levels, side="left") / max(len(negatives), 1)
    ok = levels[below >= specificity - 1e-12]
    threshold = float(ok[0]) if ok.size else float("inf")
    metrics = {k: v for k, v in threshold_metrics(threshold).items() if k in ("sensitivity", "specificity", "ppv")}
    return OperatingPoint(
        threshold=threshold,
        metrics=_intervals(bootstrap_metrics(y, p, metrics=metrics, threshold=threshold, n_boot=n_boot, seed=seed)),
    )


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


def by_questions_asked(*, y: np.ndarray, p: np.ndarray, asked: np.ndarray) -> dict[str, AskedBin]:
    """Calibration per length of interview: a model must be calibrated for any set of asked questions."""
    out = {}
    for name, low, high in ASKED_BINS:
        rows = (asked >= low) & (asked <= high)
        if rows.sum() == 0:
            continue
        out[name] = AskedBin(
            n=int(rows.sum()),
            observed_rate=float(y[rows].mean()),
            mean_probability=float(p[rows].mean()),
            ece=expected_calibration_error(y[rows], p[rows]),
            log_loss=mean_log_loss(y[rows], p[rows]),
        )
    return out


def _gap(observed: Mapping[str, Interval], bound: Point) -> Gap:
    return Gap(
        log_loss_ratio=observed["log_loss"].value / bound["log_loss"] - 1.0,
        auroc_difference=bound["auroc"] - observed["auroc"].value,
    )


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
