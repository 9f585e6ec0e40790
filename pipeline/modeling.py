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
from models.interview import CLASSES
from models.linear import SparseLogisticClassifier
from models.logodds import capped_total, expit, logit
from models.questionnaire import DECLINED, STATUS_FIELD, load_questionnaire
from models.screening import ASKED_ANSWERS, AnswerModel, OutcomeModel, ScreeningModel
from pipeline.config import TrainConfig
from pipeline.data.columns import LABELS

SINGLE_CLASS = (
    "outcome {outcome!r}: the {split} split has only {klass} cases ({n} rows); "
    "a model needs both outcomes. Use more rows or another data set."
)


@dataclass
class Candidate:
    """A fitted model of one outcome, with its calibration and operating points.

    It scores level codes as :meth:`models.encoding.FieldEncoder.transform` gives them;
    declined answers are read as not asked (they are never evidence).
    """

    name: str
    estimator: Any
    platt: Platt
    threshold: float
    high_threshold: float
    encoder: FieldEncoder

    def log_odds(self, codes: pd.DataFrame) -> np.ndarray:
        return self.platt(self.estimator.decision_function(self.encoder.fold_declined(codes)))

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
            C=m.sparse_logistic.C,
            refit_C=m.sparse_logistic.refit_C,
            categories=cats,
            random_state=config.split.seed,
            reference=encoder.reference_codes.tolist(),
            capped=encoder.dont_know_codes,
            cap=m.sparse_logistic.dont_know_cap,
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
    x_train = encoder.fold_declined(encoder.transform(train))
    x_cal = encoder.fold_declined(encoder.transform(calibration))
    fit = OutcomeFit(outcome=outcome)
    for name, estimator in make_estimators(config, encoder).items():
        estimator.fit(x_train, y_train)
        platt = fit_platt(estimator.decision_function(x_cal), y_cal)
        if isinstance(estimator, SparseLogisticClassifier) and estimator.cap is not None:
            # The cap holds for the calibrated weights: when calibration stretches them,
            # tighten the cap by the same factor and refit (one or two rounds suffice).
            cap = float(estimator.cap)
            for _ in range(3):
                if _capped_total(estimator) * platt.slope <= cap * (1 + 1e-9):
                    break
                estimator.set_params(cap=float(estimator.cap) * cap / (_capped_total(estimator) * platt.slope))
                estimator.fit(x_train, y_train)
                platt = fit_platt(estimator.decision_function(x_cal), y_cal)
        p_cal = 1.0 / (1.0 + np.exp(-platt(estimator.decision_function(x_cal))))
        fit.candidates[name] = Candidate(
            name=name,
            estimator=estimator,
            encoder=encoder,
            platt=platt,
            threshold=threshold_for_sensitivity(p_cal, y_cal, sensitivity=config.calibration.target_sensitivity),
            high_threshold=threshold_for_sensitivity(
                p_cal, y_cal, sensitivity=config.calibration.high_band_sensitivity
            ),
        )
    return fit


def _capped_total(estimator: SparseLogisticClassifier) -> float:
    """The larger of the positive and the negative sums of the capped (don't know) weights."""
    return capped_total(estimator.coef_[estimator.capped_columns_])


def _tables(candidate: Candidate, encoder: FieldEncoder) -> tuple[float, list[np.ndarray]]:
    """Calibrated log-odds of an empty form and per-level contributions relative to it.

    Every field's reference level (not asked, not recorded) contributes exactly 0, and so
    does every declined answer (the candidate reads it as not asked).
    """
    est = candidate.estimator
    a, c = candidate.platt.slope, candidate.platt.intercept
    base, raw = est.reference_tables(encoder.categories, encoder.reference_codes)
    tables = [a * t for t in raw]
    for j, code in encoder.codes_of(DECLINED):
        tables[j][code] = 0.0
    for j, table in enumerate(tables):
        table[encoder.reference_codes[j]] = 0.0
    return a * base + c, tables


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
    dont_know_cap: float | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ensemble members of the sparse logistic model for the uncertainty interval.

    Each member draws the selected coefficients from the Laplace (normal) approximation
    of the refit's posterior on the training split, and its Platt map from the same
    approximation on the calibration split: a parametric bootstrap that costs one Hessian
    per outcome instead of one refit per member. Each member keeps the model's rules: its
    non-answers weigh 0 and its don't-know answers are scaled down as a group to the cap.
    Returns per member its base value and per field its contribution table, shape
    (members, levels).
    """
    est = candidate.estimator
    if not isinstance(est, SparseLogisticClassifier) or members == 0 or est.support_.size == 0:
        return np.zeros(0), []
    rng = np.random.default_rng(seed)
    x_train = encoder.fold_declined(encoder.transform(train))
    y = train[label].to_numpy()
    ones = sp.csr_matrix(np.ones((len(y), 1)))
    design = sp.hstack([est.design_matrix(x_train)[:, est.support_], ones], format="csr")
    theta = np.r_[est.coef_[est.support_], est.intercept_]
    draws = _laplace_draws(design, y, theta, ridge=1.0 / est.refit_C, members=members, rng=rng)
    raw_z_cal = est.decision_function(encoder.fold_declined(encoder.transform(calibration)))
    y_cal = calibration[label].to_numpy()
    platt_design = sp.csr_matrix(np.column_stack([raw_z_cal, np.ones_like(raw_z_cal)]))
    platt = candidate.platt
    platt_draws = _laplace_draws(
        platt_design, y_cal, np.array([platt.slope, platt.intercept]), ridge=0.0, members=members, rng=rng
    )
    # The reference level of each field has no design column (its weight is 0): each field
    # has n - 1 columns, for its levels before the reference.
    widths = [n - 1 for n in encoder.n_levels]
    offsets = np.concatenate([[0], np.cumsum(widths)[:-1]])
    declined = dict(encoder.codes_of(DECLINED))
    dont_know = encoder.dont_know_codes
    bases, members_tables = [], []
    for draw, (slope, intercept) in zip(draws, platt_draws, strict=True):
        coef = np.zeros_like(est.coef_)
        coef[est.support_] = draw[:-1]
        tables = []
        for j, width in enumerate(widths):
            table = slope * np.append(coef[offsets[j] : offsets[j] + width], 0.0)
            if j in declined:
                table[declined[j]] = 0.0
            tables.append(table)
        if dont_know_cap is not None:
            total = capped_total(np.array([tables[j][code] for j, code in dont_know]))
            if total > dont_know_cap:
                for j, code in dont_know:
                    tables[j][code] *= dont_know_cap / total
        # The member's Platt map applies to the member's raw log-odds of an empty form.
        bases.append(slope * draw[-1] + intercept)
        members_tables.append(tables)
    per_field = [np.vstack([m[j] for m in members_tables]) for j in range(len(encoder.n_levels))]
    return np.asarray(bases), per_field


ANSWER_SMOOTHING = 4.0
"""Pseudo-counts that pull each (status, class) answer table towards the pooled one."""


def fit_answer_model(*, encoder: FieldEncoder, frame: pd.DataFrame, settled_flip_chance: float) -> AnswerModel:
    """``P(answer | class, migrant_status)`` of each indicator once asked, from training rows.

    Classes come from the observed labels (none, labour, sexual, both). Each table is
    smoothed towards the indicator's pooled answers, so rare classes and statuses borrow
    strength; an unknown status uses the tables pooled over statuses.
    """
    q = load_questionnaire()
    status_levels = q.field(STATUS_FIELD).levels
    indicators = [f for f in encoder.fields if f.kind == "indicator"]
    labour = frame[LABELS["labour"]].to_numpy() if LABELS["labour"] in frame else np.zeros(len(frame), dtype=int)
    sexual = frame[LABELS["sexual"]].to_numpy() if LABELS["sexual"] in frame else np.zeros(len(frame), dtype=int)
    klass = (labour.astype(int) + 2 * sexual.astype(int)).astype(np.int64)
    if STATUS_FIELD in frame:
        status = pd.Categorical(frame[STATUS_FIELD], categories=list(status_levels)).codes.astype(np.int64)
    else:
        status = np.full(len(frame), len(status_levels) - 1, dtype=np.int64)
    n_s, n_k, n_a = len(status_levels), len(CLASSES), len(ASKED_ANSWERS)
    counts = np.zeros((n_s, n_k, len(indicators), n_a))
    for i, f in enumerate(indicators):
        codes = pd.Categorical(frame[f.id], categories=list(f.levels)).codes.astype(np.int64)
        asked = (codes >= 0) & (codes < n_a)
        np.add.at(counts, (status[asked], klass[asked], np.full(int(asked.sum()), i), codes[asked]), 1.0)
    # the unknown status: every status pooled
    counts[-1] = counts[:-1].sum(axis=0)
    pooled = counts[:-1].sum(axis=(0, 1)) + 1.0  # (I, A), one pseudo-count per answer
    pooled /= pooled.sum(axis=1, keepdims=True)
    smoothed = counts + ANSWER_SMOOTHING * pooled[None, None]
    return AnswerModel(
        indicators=tuple(f.id for f in indicators),
        p=smoothed / smoothed.sum(axis=-1, keepdims=True),
        settled_flip_chance=settled_flip_chance,
    )


def compile_screening_model(
    *,
    fits: dict[str, OutcomeFit],
    production: str,
    encoder: FieldEncoder,
    ensembles: dict[str, tuple[np.ndarray, list[np.ndarray]]],
    answer_model: AnswerModel,
    dont_know_cap: float,
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
    return ScreeningModel(
        fields=encoder.field_ids,
        outcomes=outcomes,
        answer_model=answer_model,
        dont_know_cap=dont_know_cap,
        metadata=metadata,
    )


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
