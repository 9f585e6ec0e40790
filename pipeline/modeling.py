"""Fit, calibrate and compile the candidate models of both outcomes (plain functions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from models.baselines import CountScreener, DelphiRuleScreener
from models.boosting import AdditiveBoostingClassifier
from models.calibration import Platt, fit_platt, threshold_for_sensitivity
from models.encoding import FieldEncoder
from models.linear import SparseLogisticClassifier
from models.logodds import expit, logit
from models.questionnaire import load_questionnaire
from models.screening import OutcomeModel, ScreeningModel
from pipeline.config import TrainConfig

LABELS = {"labour": "is_labour", "sexual": "is_sexual"}
TRUTH = {"labour": "true_labour", "sexual": "true_sexual"}
GROUND_TRUTH_P = {"labour": "p_labour", "sexual": "p_sexual"}
SINGLE_CLASS = (
    "outcome {outcome!r}: the {split} split has only {klass} cases ({n} rows); "
    "a model needs both outcomes. Use more rows or another data set."
)


@dataclass
class Candidate:
    """A fitted model of one outcome, with its calibration and operating points."""

    name: str
    estimator: Any
    platt: Platt
    threshold: float
    high_threshold: float

    def log_odds(self, codes: pd.DataFrame) -> np.ndarray:
        return self.platt(self.estimator.decision_function(codes))

    def predict_proba(self, codes: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(codes)))


@dataclass
class OutcomeFit:
    outcome: str
    candidates: dict[str, Candidate] = field(default_factory=dict)


def check_both_classes(y: np.ndarray, *, outcome: str, split: str) -> None:
    classes = np.unique(y)
    if len(classes) < 2:
        klass = "positive" if classes.size and classes[0] == 1 else "negative"
        raise ValueError(SINGLE_CLASS.format(outcome=outcome, split=split, klass=klass, n=len(y)))


def make_estimators(config: TrainConfig, encoder: FieldEncoder) -> dict[str, BaseEstimator]:
    """The candidates: two additive models and two transparent baselines."""
    q = load_questionnaire()
    fields = encoder.field_ids
    indicator_cols = [i for i, f in enumerate(fields) if f in set(q.indicator_ids)]
    yes = q.indicators[0].levels.index("yes")
    ind_fields = [q.field(fields[i]) for i in indicator_cols]
    cats = encoder.categories
    m = config.models
    return {
        "sparse_logistic": SparseLogisticClassifier(
            C=m.sparse_logistic.C, refit_C=m.sparse_logistic.refit_C, categories=cats, random_state=config.split.seed
        ),
        "additive_boosting": AdditiveBoostingClassifier(
            max_iter=m.additive_boosting.max_iter,
            learning_rate=m.additive_boosting.learning_rate,
            l2_regularization=m.additive_boosting.l2_regularization,
            categories=cats,
            random_state=config.split.seed,
        ),
        "count_screener": CountScreener(indicator_columns=indicator_cols, yes_code=yes),
        "delphi_rule": DelphiRuleScreener(
            indicator_columns=indicator_cols,
            dimensions=[str(f.dimension) for f in ind_fields],
            strengths=[str(f.strength) for f in ind_fields],
            stages=dict(q.dimensions),
            yes_code=yes,
        ),
    }


def fit_outcome(
    *,
    outcome: str,
    config: TrainConfig,
    encoder: FieldEncoder,
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    label_column: str | None = None,
) -> OutcomeFit:
    """Fit every candidate on ``train``, then Platt-calibrate and set operating points on ``calibration``."""
    label = label_column or LABELS[outcome]
    y_train = train[label].to_numpy()
    y_cal = calibration[label].to_numpy()
    check_both_classes(y_train, outcome=outcome, split="training")
    check_both_classes(y_cal, outcome=outcome, split="calibration")
    x_train = encoder.transform(train)
    x_cal = encoder.transform(calibration)
    fit = OutcomeFit(outcome=outcome)
    for name, estimator in make_estimators(config, encoder).items():
        estimator.fit(x_train, y_train)
        platt = fit_platt(estimator.decision_function(x_cal), y_cal)
        p_cal = 1.0 / (1.0 + np.exp(-platt(estimator.decision_function(x_cal))))
        fit.candidates[name] = Candidate(
            name=name,
            estimator=estimator,
            platt=platt,
            threshold=threshold_for_sensitivity(p_cal, y_cal, sensitivity=config.calibration.target_sensitivity),
            high_threshold=threshold_for_sensitivity(
                p_cal, y_cal, sensitivity=config.calibration.high_band_sensitivity
            ),
        )
    return fit


def _tables(candidate: Candidate, encoder: FieldEncoder) -> tuple[float, list[np.ndarray]]:
    """Calibrated base value and per-level contributions of an additive candidate."""
    est = candidate.estimator
    a, c = candidate.platt.slope, candidate.platt.intercept
    tables = [a * t for t in est.shape_table(encoder.categories)]
    return a * est.base_value_ + c, tables


def _laplace_draws(
    design: sp.csr_matrix, y: np.ndarray, theta: np.ndarray, *, ridge: float, members: int, rng: np.random.Generator
) -> np.ndarray:
    """Draws from the Laplace approximation of a logistic fit's posterior.

    ``design`` includes the intercept as its last column; ``theta`` is the fit (coefficients
    then intercept); ``ridge`` is the L2 penalty on the coefficients (not the intercept).
    """
    p = expit(design @ theta)
    weights = p * (1.0 - p)
    hessian = np.asarray((design.T @ design.multiply(weights[:, None])).todense())
    hessian[np.diag_indices(design.shape[1] - 1)] += ridge
    hessian[np.diag_indices_from(hessian)] += 1e-9
    covariance = np.linalg.inv(hessian)
    covariance = (covariance + covariance.T) / 2
    return rng.multivariate_normal(theta, covariance, size=members, method="cholesky")


def uncertainty_ensemble(
    *,
    candidate: Candidate,
    encoder: FieldEncoder,
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    label: str,
    members: int,
    seed: int,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ensemble members of the sparse logistic model for the uncertainty interval.

    Each member draws the selected coefficients from the Laplace (normal) approximation
    of the refit's posterior on the training split, and its Platt map from the same
    approximation on the calibration split: a parametric bootstrap that costs one Hessian
    per outcome instead of one refit per member. Returns per member its base value and per
    field its contribution table, shape (members, levels).
    """
    est = candidate.estimator
    if not isinstance(est, SparseLogisticClassifier) or members == 0 or est.support_.size == 0:
        return np.zeros(0), []
    rng = np.random.default_rng(seed)
    x_train = encoder.transform(train)
    y = train[label].to_numpy()
    ones = sp.csr_matrix(np.ones((len(y), 1)))
    design = sp.hstack([est.design_matrix(x_train)[:, est.support_], ones], format="csr")
    theta = np.r_[est.coef_[est.support_], est.intercept_]
    draws = _laplace_draws(design, y, theta, ridge=1.0 / est.refit_C, members=members, rng=rng)
    raw_z_cal = est.decision_function(encoder.transform(calibration))
    y_cal = calibration[label].to_numpy()
    platt_design = sp.csr_matrix(np.column_stack([raw_z_cal, np.ones_like(raw_z_cal)]))
    platt = candidate.platt
    platt_draws = _laplace_draws(
        platt_design, y_cal, np.array([platt.slope, platt.intercept]), ridge=0.0, members=members, rng=rng
    )
    offsets = np.concatenate([[0], np.cumsum(encoder.n_levels)[:-1]])
    codes = x_train.to_numpy()
    bases, members_tables = [], []
    for draw, (slope, intercept) in zip(draws, platt_draws, strict=True):
        coef = np.zeros_like(est.coef_)
        coef[est.support_] = draw[:-1]
        tables, shift = [], 0.0
        for j, n in enumerate(encoder.n_levels):
            raw = coef[offsets[j] : offsets[j] + n]
            mean = float(raw[codes[:, j]].mean())
            shift += mean
            tables.append(slope * (raw - mean))
        # The member's Platt map applies to the member's raw log-odds; its base follows.
        bases.append(slope * (draw[-1] + shift) + intercept)
        members_tables.append(tables)
    per_field = [np.vstack([m[j] for m in members_tables]) for j in range(len(encoder.n_levels))]
    return np.asarray(bases), per_field


def compile_screening_model(
    *,
    fits: dict[str, OutcomeFit],
    production: str,
    encoder: FieldEncoder,
    ensembles: dict[str, tuple[np.ndarray, list[np.ndarray]]],
    metadata: dict[str, Any],
) -> ScreeningModel:
    """The deployable tables of the production candidate of each outcome."""
    outcomes = {}
    for outcome, fit in fits.items():
        candidate = fit.candidates[production]
        base, tables = _tables(candidate, encoder)
        ens_base, ens_tables = ensembles.get(outcome, (np.zeros(0), []))
        outcomes[outcome] = OutcomeModel(
            base_value=float(base),
            contributions=tables,
            threshold=candidate.threshold,
            high_threshold=max(candidate.high_threshold, candidate.threshold),
            ensemble_base_values=ens_base,
            ensemble_contributions=ens_tables,
            estimator=production,
        )
    return ScreeningModel(fields=encoder.field_ids, outcomes=outcomes, metadata=metadata)


def check_compiled(model: ScreeningModel, fits: dict[str, OutcomeFit], production: str, frame: pd.DataFrame) -> float:
    """Largest gap between the compiled tables and the fitted estimators' log-odds."""
    encoder = model.encoder
    codes = encoder.transform(frame)
    scores = model.score_codes(codes.to_numpy())
    gap = 0.0
    for outcome, fit in fits.items():
        expected = fit.candidates[production].log_odds(codes)
        gap = max(gap, float(np.max(np.abs(scores[outcome].log_odds - expected))))
        direct = logit(scores[outcome].probability)
        gap = max(gap, float(np.max(np.abs(direct - scores[outcome].log_odds))))
    return gap
