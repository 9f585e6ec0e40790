"""Exact explanations for additive binary classifiers.

A model is additive when its log-odds is a sum of one function per input column,
``g(x) = b + sum_j f_j(x_j)`` (a logistic regression on one-hot codes, boosted stumps, a
count of answers). Its exact explanation is then ``f_j(x_j) - E[f_j]``: the interventional
SHAP value with the training data as background. :class:`AdditiveExplainerMixin` recovers
each ``f_j`` from the model's own ``decision_function`` (so the explanation cannot drift
from the prediction), and checks nothing by trusting the model to be additive: the tests
check additivity against ``predict_proba``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from models.logodds import expit, logit

__all__ = ["AdditiveExplainerMixin", "BinaryLogOddsMixin", "Explanation", "expit", "feature_names_of", "logit"]


@dataclass(frozen=True)
class Explanation:
    """Per-row base value and per-column contributions, in log-odds.

    ``base_values[i] + values[i].sum() == log_odds(predict_proba(X)[i, 1])``.
    """

    base_values: np.ndarray
    values: np.ndarray
    feature_names: tuple[str, ...]

    @property
    def log_odds(self) -> np.ndarray:
        return self.base_values + self.values.sum(axis=1)

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.values, columns=list(self.feature_names))
        frame.insert(0, "base_value", self.base_values)
        return frame


def feature_names_of(estimator: Any, n_features: int) -> tuple[str, ...]:
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return tuple(f"x{j}" for j in range(n_features))
    return tuple(str(n) for n in names)


NOT_BINARY = "{name} needs exactly two classes in y, got {n}"


class BinaryLogOddsMixin:
    """``predict_proba`` and ``predict`` of a binary classifier from its ``decision_function``."""

    classes_: np.ndarray

    def decision_function(self, X: Any) -> np.ndarray:  # pragma: no cover - provided by the estimator
        raise NotImplementedError

    def _set_binary_classes(self, y: np.ndarray) -> np.ndarray:
        """Store ``classes_`` and return ``y`` as booleans (the second class is positive)."""
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(NOT_BINARY.format(name=type(self).__name__, n=len(self.classes_)))
        return np.asarray(y == self.classes_[1])

    def predict_proba(self, X: Any) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_[(self.decision_function(X) > 0).astype(int)])


class AdditiveExplainerMixin(BinaryLogOddsMixin):
    """``explain`` and ``shape_table`` for estimators whose log-odds is additive per column.

    The estimator implements ``decision_function`` and ``_categories()`` (per column, the
    values seen in training) and calls :meth:`_fit_explainer` at the end of ``fit``. The
    per-category shapes are tabulated once, so explaining is a table look-up.
    """

    def _categories(self) -> list[np.ndarray]:  # pragma: no cover - provided by the estimator
        raise NotImplementedError

    def _fit_explainer(self, X: np.ndarray) -> None:
        X = np.asarray(X)
        self.reference_ = X[0].copy()
        self.reference_log_odds_ = float(self.decision_function(self._as_input(self.reference_[None, :]))[0])
        self.shape_categories_ = [np.asarray(c) for c in self._categories()]
        self.shapes_ = self._shape_many(self.shape_categories_)
        self.shape_means_ = self._shapes(X).mean(axis=0)

    def _as_input(self, rows: np.ndarray) -> Any:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return pd.DataFrame(rows, columns=names)
        return rows

    def _shape_many(self, values: list[np.ndarray]) -> list[np.ndarray]:
        """``f_j(v) - f_j(reference_j)`` for each value ``v`` of ``values[j]``, in one model call."""
        dtype = np.result_type(self.reference_, *values) if values else self.reference_.dtype
        blocks = []
        for j, vals in enumerate(values):
            rows = np.tile(self.reference_, (len(vals), 1)).astype(dtype)
            rows[:, j] = vals
            blocks.append(rows)
        if not blocks or sum(len(b) for b in blocks) == 0:
            return [np.zeros(0) for _ in values]
        z = np.asarray(self.decision_function(self._as_input(np.vstack(blocks))), dtype=float)
        z = z - self.reference_log_odds_
        return np.split(z, np.cumsum([len(v) for v in values])[:-1])

    def _shape(self, j: int, values: np.ndarray) -> np.ndarray:
        """``f_j(v) - f_j(reference_j)`` for each value ``v`` of column ``j``."""
        empty = [np.zeros(0, dtype=self.reference_.dtype)] * len(self.reference_)
        return self._shape_many([*empty[:j], np.asarray(values), *empty[j + 1 :]])[j]

    def _shapes(self, X: np.ndarray) -> np.ndarray:
        """``f_j(x_ij) - f_j(reference_j)`` for every row and column."""
        out = np.empty(X.shape, dtype=float)
        for j, (cats, shape) in enumerate(zip(self.shape_categories_, self.shapes_, strict=True)):
            column = X[:, j]
            pos = np.clip(np.searchsorted(cats, column), 0, len(cats) - 1)
            known = cats[pos] == column
            out[:, j] = np.where(known, shape[pos], 0.0)
            if not known.all():
                uniques, inverse = np.unique(column[~known], return_inverse=True)
                out[~known, j] = self._shape(j, uniques)[inverse.ravel()]
        return out

    @property
    def base_value_(self) -> float:
        check_is_fitted(self, "shape_means_")
        return float(self.reference_log_odds_ + self.shape_means_.sum())

    def explain(self, X: Any) -> Explanation:
        """Exact additive contributions of each column to the log-odds of each row."""
        check_is_fitted(self, "shape_means_")
        array = np.asarray(X)
        values = self._shapes(array) - self.shape_means_
        return Explanation(
            base_values=np.full(array.shape[0], self.base_value_),
            values=values,
            feature_names=feature_names_of(self, array.shape[1]),
        )

    def reference_tables(self, categories: list[np.ndarray], reference: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """The model as ``(base, tables)`` relative to a reference row, in log-odds.

        ``base`` is the log-odds of the ``reference`` row (for Tarozu: an empty form) and
        ``tables[j][k] = f_j(categories[j][k]) - f_j(reference[j])``, so the reference level
        of every column contributes exactly 0 and ``base + sum_j tables[j][x_j]`` is the
        log-odds of any row ``x``.
        """
        check_is_fitted(self, "shape_means_")
        reference = np.asarray(reference)
        base = float(self.decision_function(self._as_input(reference[None, :]))[0])
        shapes = self._shape_many([np.asarray(c) for c in categories])
        at_reference = self._shape_many([np.asarray([r]) for r in reference])
        return base, [shape - float(ref[0]) for shape, ref in zip(shapes, at_reference, strict=True)]

    def shape_table(self, categories: list[np.ndarray]) -> list[np.ndarray]:
        """Centred contribution of every given category of every column (the model as a table)."""
        check_is_fitted(self, "shape_means_")
        shapes = self._shape_many([np.asarray(c) for c in categories])
        return [shape - self.shape_means_[j] for j, shape in enumerate(shapes)]
