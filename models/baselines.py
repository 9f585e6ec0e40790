"""Transparent baselines every model is compared with.

- :class:`CountScreener`: the number of ``yes`` answers, as a tool on paper would count.
- :class:`DelphiRuleScreener`: the ILO/EC Delphi combination rule over dimensions.

Both map their score to a probability fitted on training data, so that their log-loss,
calibration and AUROC sit beside the models' on the same footing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from models.additive import AdditiveExplainerMixin, BinaryLogOddsMixin, Explanation, feature_names_of, logit

NO_INDICATORS = "{name} needs at least one indicator column"


class CountScreener(AdditiveExplainerMixin, ClassifierMixin, BaseEstimator):
    """``k`` or more ``yes`` answers: score is the count, probability a logistic of it.

    Parameters
    ----------
    indicator_columns
        Positions of the indicator columns in ``X`` (others are ignored).
    yes_code
        The code of the answer ``yes``.
    """

    def __init__(self, indicator_columns: Sequence[int] = (), *, yes_code: int = 0) -> None:
        self.indicator_columns = indicator_columns
        self.yes_code = yes_code

    def count(self, X: Any) -> np.ndarray:
        array = np.asarray(X)
        return (array[:, list(self.indicator_columns)] == self.yes_code).sum(axis=1)

    def fit(self, X: Any, y: Any) -> CountScreener:
        X, y = validate_data(self, X, y)
        if len(self.indicator_columns) == 0:
            raise ValueError(NO_INDICATORS.format(name=type(self).__name__))
        target = self._set_binary_classes(y)
        self.link_ = LogisticRegression(C=1e6).fit(self.count(X).reshape(-1, 1), target)
        self._fit_explainer(X)
        return self

    def _categories(self) -> list[np.ndarray]:
        return [np.array([self.yes_code, self.yes_code + 1])] * int(self.n_features_in_)

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "link_")
        X = validate_data(self, X, reset=False)
        return np.asarray(self.link_.decision_function(self.count(X).reshape(-1, 1)), dtype=float)


_WEIGHTS = {"strong": (1, 0, 0), "medium": (0, 1, 0), "weak": (0, 0, 1)}


class DelphiRuleScreener(BinaryLogOddsMixin, ClassifierMixin, BaseEstimator):
    """The Delphi combination rule (ILO/European Commission, 2009).

    A dimension is positive with 2 strong indicators, or 1 strong and 1 medium or weak, or
    3 medium, or 2 medium and 1 weak. A likely victim has a positive recruitment
    dimension, a positive exploitation dimension and a positive coercion or
    abuse-of-vulnerability dimension. The score is the number of those three stages that
    are positive (0-3); its probability is the training rate of each score (smoothed).

    ``explain`` is a rule attribution, not a Shapley value: the base value is the log-odds
    of score 0 and the difference to the case's log-odds is shared equally among the
    ``yes`` answers of its positive dimensions. It adds up exactly.

    Parameters
    ----------
    indicator_columns
        Positions of indicator columns in ``X``.
    dimensions
        The Delphi dimension of each indicator column.
    strengths
        The Delphi strength (``strong``, ``medium``, ``weak``) of each indicator column.
    stages
        ``{dimension: stage}`` with stages ``recruitment``, ``exploitation``, ``coercion``.
    yes_code
        The code of the answer ``yes``.
    """

    def __init__(
        self,
        indicator_columns: Sequence[int] = (),
        *,
        dimensions: Sequence[str] = (),
        strengths: Sequence[str] = (),
        stages: dict[str, str] | None = None,
        yes_code: int = 0,
    ) -> None:
        self.indicator_columns = indicator_columns
        self.dimensions = dimensions
        self.strengths = strengths
        self.stages = stages
        self.yes_code = yes_code

    def _positive_dimensions(self, array: np.ndarray) -> dict[str, np.ndarray]:
        yes = array[:, list(self.indicator_columns)] == self.yes_code
        positive = {}
        for dim in dict.fromkeys(self.dimensions):
            cols = [i for i, d in enumerate(self.dimensions) if d == dim]
            s, m, w = (
                yes[:, [i for i in cols if self.strengths[i] == level]].sum(axis=1)
                for level in ("strong", "medium", "weak")
            )
            positive[dim] = (s >= 2) | ((s >= 1) & (m + w >= 1)) | (m >= 3) | ((m >= 2) & (w >= 1))
        return positive

    def score(self, X: Any) -> np.ndarray:
        """Number of positive stages (recruitment, exploitation, coercion), 0 to 3."""
        array = np.asarray(X)
        positive = self._positive_dimensions(array)
        stages = self.stages or {}
        total = np.zeros(array.shape[0], dtype=int)
        for stage in ("recruitment", "exploitation", "coercion"):
            dims = [d for d in positive if stages.get(d) == stage]
            if dims:
                total += np.logical_or.reduce([positive[d] for d in dims])
        return total

    def likely_victim(self, X: Any) -> np.ndarray:
        """The rule's own verdict: all three stages positive."""
        return self.score(X) == 3

    def fit(self, X: Any, y: Any) -> DelphiRuleScreener:
        X, y = validate_data(self, X, y)
        if len(self.indicator_columns) == 0:
            raise ValueError(NO_INDICATORS.format(name=type(self).__name__))
        score = self.score(X)
        positive = self._set_binary_classes(y)
        prior = positive.mean()
        rates = [(positive[score == s].sum() + prior) / ((score == s).sum() + 1.0) for s in range(4)]
        self.log_odds_ = logit(np.array(rates))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "log_odds_")
        X = validate_data(self, X, reset=False)
        return np.asarray(self.log_odds_[self.score(X)], dtype=float)

    def explain(self, X: Any) -> Explanation:
        check_is_fitted(self, "log_odds_")
        array = np.asarray(validate_data(self, X, reset=False))
        z = np.asarray(self.log_odds_[self.score(array)], dtype=float)
        base = float(self.log_odds_[0])
        positive = self._positive_dimensions(array)
        credited = np.zeros(array.shape, dtype=bool)
        for i, col in enumerate(self.indicator_columns):
            credited[:, col] = (array[:, col] == self.yes_code) & positive[self.dimensions[i]]
        n_credited = credited.sum(axis=1)
        share = np.divide(z - base, n_credited, out=np.zeros_like(z), where=n_credited > 0)
        values = credited * share[:, None]
        return Explanation(
            base_values=np.full(array.shape[0], base),
            values=values,
            feature_names=feature_names_of(self, array.shape[1]),
        )
