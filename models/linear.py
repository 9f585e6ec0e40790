"""Sparse logistic regression on one-hot answer codes: Tarozu's primary model."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted, validate_data

from models.additive import AdditiveExplainerMixin


def fit_logistic(design: sp.csr_matrix, y: np.ndarray, *, C: float) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by L-BFGS; returns ``(coef, intercept)``."""
    model = LogisticRegression(C=C, solver="lbfgs", max_iter=1000, tol=1e-7)
    model.fit(design, y)
    return model.coef_.ravel().copy(), float(model.intercept_[0])


class SparseLogisticClassifier(AdditiveExplainerMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression on the one-hot codes of categorical columns, L1-selected.

    Fitting is a relaxed lasso: an L1 fit (``C``) chooses which answers carry weight, then
    a lightly L2-penalised refit (``refit_C``) on those columns removes the lasso's
    shrinkage, which keeps the probabilities calibrated. Every level of every column has
    its own weight (none is dropped), so the model reads as a table of points.

    Parameters
    ----------
    C
        Inverse strength of the L1 penalty that selects columns.
    refit_C
        Inverse strength of the L2 penalty of the refit on the selected columns.
    selection_tol
        Tolerance of the L1 fit, which only selects columns.
    categories
        ``"auto"`` or, per column, the codes it can take (from
        :attr:`models.encoding.FieldEncoder.categories`).
    random_state
        Seed of the L1 fit's random coordinate order (saga), so that a fit is reproducible.
    """

    def __init__(
        self,
        C: float = 0.05,
        *,
        refit_C: float = 10.0,
        selection_tol: float = 1e-2,
        categories: Any = "auto",
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.selection_tol = selection_tol
        self.refit_C = refit_C
        self.categories = categories
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SparseLogisticClassifier:
        X, y = validate_data(self, X, y)
        target = self._set_binary_classes(y)
        self.encoder_ = OneHotEncoder(categories=self.categories, handle_unknown="ignore")
        design = self.encoder_.fit_transform(X).tocsr()
        # The lasso only chooses the support; the refit below is solved to convergence, so a
        # loose tolerance here costs nothing in the final coefficients and saves most of the time.
        lasso = LogisticRegression(
            C=self.C,
            l1_ratio=1.0,
            solver="saga",
            tol=self.selection_tol,
            max_iter=300,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lasso.fit(design, target)
        self.support_ = np.flatnonzero(lasso.coef_.ravel())
        self.coef_ = np.zeros(design.shape[1])
        if self.support_.size:
            coef, self.intercept_ = fit_logistic(design[:, self.support_], target, C=self.refit_C)
            self.coef_[self.support_] = coef
        else:
            rate = float(np.clip(target.mean(), 1e-6, 1 - 1e-6))
            self.intercept_ = float(np.log(rate / (1 - rate)))
        self._fit_explainer(X)
        return self

    def _categories(self) -> list[np.ndarray]:
        return list(self.encoder_.categories_)

    def design_matrix(self, X: Any) -> sp.csr_matrix:
        """The one-hot design of ``X`` (for refits with the same columns)."""
        check_is_fitted(self, "encoder_")
        return self.encoder_.transform(validate_data(self, X, reset=False)).tocsr()

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return np.asarray(self.design_matrix(X) @ self.coef_ + self.intercept_, dtype=float)

    @property
    def n_nonzero_(self) -> int:
        check_is_fitted(self, "coef_")
        return int(np.count_nonzero(self.coef_))
