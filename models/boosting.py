"""Boosted stumps on categorical codes: an additive model whose per-answer shape can be plotted."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_is_fitted, validate_data

from models.additive import AdditiveExplainerMixin


class AdditiveBoostingClassifier(AdditiveExplainerMixin, ClassifierMixin, BaseEstimator):
    """Gradient-boosted depth-1 trees with native categorical splits.

    Each stump splits one column, so the log-odds is a sum of one step function per
    column: additive, exactly explainable, and richer than a linear model where an
    answer's effect is not monotone in its code.

    Parameters
    ----------
    max_iter, learning_rate, l2_regularization, min_samples_leaf
        Boosting settings (see ``HistGradientBoostingClassifier``).
    categories
        ``"auto"`` or, per column, the codes it can take.
    random_state
        Seed of the early-stopping split.
    """

    def __init__(
        self,
        max_iter: int = 400,
        *,
        learning_rate: float = 0.2,
        l2_regularization: float = 1.0,
        min_samples_leaf: int = 20,
        categories: Any = "auto",
        random_state: int | None = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.l2_regularization = l2_regularization
        self.min_samples_leaf = min_samples_leaf
        self.categories = categories
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> AdditiveBoostingClassifier:
        X, y = validate_data(self, X, y)
        target = self._set_binary_classes(y)
        self.encoder_ = OrdinalEncoder(
            categories=self.categories,
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
        )
        codes = self.encoder_.fit_transform(X)
        self.boosting_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_depth=1,
            l2_regularization=self.l2_regularization,
            min_samples_leaf=self.min_samples_leaf,
            categorical_features=np.ones(codes.shape[1], dtype=bool),
            early_stopping=codes.shape[0] >= 1000,
            random_state=self.random_state,
        ).fit(codes, target)
        self._fit_explainer(X)
        return self

    def _categories(self) -> list[np.ndarray]:
        return list(self.encoder_.categories_)

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "boosting_")
        X = validate_data(self, X, reset=False)
        return np.asarray(self.boosting_.decision_function(self.encoder_.transform(X)), dtype=float)
