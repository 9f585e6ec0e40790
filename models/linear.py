"""Sparse logistic regression on one-hot answer codes: Tarozu's primary model."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted, validate_data

from models.additive import AdditiveExplainerMixin
from models.logodds import capped_total

BAD_CAP = "cap must be a positive number of log-odds or None, not {cap!r}"


def fit_logistic(
    design: sp.csr_matrix, y: np.ndarray, *, C: float, offset: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by L-BFGS; returns ``(coef, intercept)``.

    ``offset`` is a fixed term added to every row's log-odds (coefficients held fixed).
    """
    if offset is None:
        model = LogisticRegression(C=C, solver="lbfgs", max_iter=1000, tol=1e-7)
        model.fit(design, y)
        return model.coef_.ravel().copy(), float(model.intercept_[0])
    target = np.asarray(y, dtype=float)
    n_coef = design.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ theta[:-1] + theta[-1] + offset
        value = float(np.sum(np.logaddexp(0.0, z) - target * z)) + 0.5 / C * float(theta[:-1] @ theta[:-1])
        residual = 1.0 / (1.0 + np.exp(-z)) - target
        grad = np.empty(n_coef + 1)
        grad[:-1] = design.T @ residual + theta[:-1] / C
        grad[-1] = residual.sum()
        return value, grad

    result = minimize(loss, np.zeros(n_coef + 1), jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-7})
    return result.x[:-1].copy(), float(result.x[-1])


class SparseLogisticClassifier(AdditiveExplainerMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression on the one-hot codes of categorical columns, L1-selected.

    Fitting is a relaxed lasso: an L1 fit (``C``) chooses which answers carry weight, then
    a lightly L2-penalised refit (``refit_C``) on those columns removes the lasso's
    shrinkage, which keeps the probabilities calibrated. Every level of every column has
    its own weight, so the model reads as a table of points; a column's ``reference``
    level (an unasked question, an unrecorded context field) has none: it weighs exactly 0.

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
    reference
        ``None`` or, per column, the value whose weight is fixed at 0 (no evidence).
    capped
        ``(column, value)`` pairs whose weights together are limited by ``cap``: the sum of
        their positive weights is at most ``cap``, and so is the sum of their negative
        weights' sizes. When the fit exceeds it, those weights are scaled down as a group
        and the others are refitted with them held fixed.
    cap
        The limit of ``capped``, in log-odds (``None``: no limit).
    """

    def __init__(
        self,
        C: float = 0.05,
        *,
        refit_C: float = 10.0,
        selection_tol: float = 1e-2,
        categories: Any = "auto",
        random_state: int | None = 0,
        reference: Any = None,
        capped: Any = (),
        cap: float | None = None,
    ) -> None:
        self.C = C
        self.selection_tol = selection_tol
        self.refit_C = refit_C
        self.categories = categories
        self.random_state = random_state
        self.reference = reference
        self.capped = capped
        self.cap = cap

    def fit(self, X: Any, y: Any) -> SparseLogisticClassifier:
        X, y = validate_data(self, X, y)
        target = self._set_binary_classes(y)
        if self.cap is not None and not (isinstance(self.cap, int | float) and self.cap > 0):
            raise ValueError(BAD_CAP.format(cap=self.cap))
        drop = None if self.reference is None else list(self.reference)
        self.encoder_ = OneHotEncoder(categories=self.categories, handle_unknown="ignore", drop=drop)
        with warnings.catch_warnings():
            # a reference level absent from X is no error: its weight is 0 either way
            warnings.simplefilter("ignore", UserWarning)
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
            self._hold_cap(design, target)
        else:
            rate = float(np.clip(target.mean(), 1e-6, 1 - 1e-6))
            self.intercept_ = float(np.log(rate / (1 - rate)))
        self._fit_explainer(X)
        return self

    def _capped_columns(self) -> np.ndarray:
        """Design columns of the ``capped`` (column, value) pairs."""
        names = list(self.encoder_.get_feature_names_out([f"c{j}" for j in range(self.n_features_in_)]))
        index = {name: k for k, name in enumerate(names)}
        wanted = [index.get(f"c{int(j)}_{value}") for j, value in self.capped]
        return np.array(sorted(k for k in wanted if k is not None), dtype=np.int64)

    def _hold_cap(self, design: sp.csr_matrix, target: np.ndarray) -> None:
        """Scale the capped weights down as a group if they exceed the cap, refit the rest."""
        self.capped_columns_ = self._capped_columns() if len(self.capped) else np.zeros(0, dtype=np.int64)
        if self.cap is None or not self.capped_columns_.size:
            return
        weights = self.coef_[self.capped_columns_]
        total = capped_total(weights)
        if total <= self.cap:
            return
        self.coef_[self.capped_columns_] = weights * (self.cap / total)
        rest = np.setdiff1d(self.support_, self.capped_columns_)
        offset = design[:, self.capped_columns_] @ self.coef_[self.capped_columns_]
        coef, self.intercept_ = fit_logistic(design[:, rest], target, C=self.refit_C, offset=offset)
        self.coef_[rest] = coef

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
