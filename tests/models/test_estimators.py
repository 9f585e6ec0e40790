"""Every estimator: exact additive explanations and the scikit-learn contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from models.additive import logit
from models.boosting import AdditiveBoostingClassifier
from models.linear import SparseLogisticClassifier
from pipeline.train import FittedScreening

ESTIMATORS = ("sparse_logistic", "additive_boosting", "count_screener", "delphi_rule")


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("outcome", ["labour", "sexual"])
def test_explanations_add_up_to_predict_proba(trained: FittedScreening, name: str, outcome: str) -> None:
    est = trained.fits[outcome].candidates[name].estimator
    codes = trained.encoder.transform(trained.splits.test)
    explanation = est.explain(codes)
    expected = logit(est.predict_proba(codes)[:, 1])
    np.testing.assert_allclose(explanation.log_odds, expected, atol=1e-6, rtol=0)
    assert explanation.values.shape == codes.shape


@pytest.mark.parametrize("estimator", [SparseLogisticClassifier(C=0.5), AdditiveBoostingClassifier(max_iter=5)])
def test_sklearn_contract_basics(estimator: Any) -> None:
    """Parameters round-trip through clone, and an unfitted model refuses to predict."""
    assert clone(estimator).get_params() == estimator.get_params()
    with pytest.raises(NotFittedError):
        estimator.predict_proba(np.zeros((2, 3), dtype=int))
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(200, 3))
    y = (X[:, 0] == 1) | (rng.random(200) < 0.1)
    assert clone(estimator).fit(X, y).predict_proba(X).shape == (200, 2)
