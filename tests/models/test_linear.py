"""The sparse logistic classifier (:mod:`models.linear`): SHAP agreement, reproducibility, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.encoding import FieldEncoder
from models.linear import SparseLogisticClassifier
from pipeline.config import load_config
from pipeline.train import FittedScreening


def test_sparse_logistic_agrees_with_shap_linear_explainer(trained: FittedScreening) -> None:
    """Our closed-form contributions equal SHAP's interventional values, one-hot parts summed."""
    shap = pytest.importorskip("shap")
    est = trained.fits["labour"].candidates["sparse_logistic"].estimator
    encoder = trained.encoder
    # the background is what the model was fitted on: declined answers read as not asked
    train_codes = encoder.fold_declined(encoder.transform(trained.train_rows))
    test_codes = encoder.transform(trained.splits.test).iloc[:200]
    design_train = est.design_matrix(train_codes).toarray()
    design_test = est.design_matrix(test_codes).toarray()
    # shap's masker samples 100 background rows unless told otherwise; use all of them.
    masker = shap.maskers.Independent(design_train, max_samples=len(design_train))
    explainer = shap.LinearExplainer((est.coef_, est.intercept_), masker)
    onehot_values = explainer.shap_values(design_test)
    # each field's reference level (not asked / not recorded) has no column: its weight is 0
    sizes = [len(c) - 1 for c in encoder.categories]
    summed = np.add.reduceat(onehot_values, np.r_[0, np.cumsum(sizes)[:-1]], axis=1)
    ours = est.explain(test_codes)
    np.testing.assert_allclose(ours.values, summed, atol=1e-9)
    np.testing.assert_allclose(ours.base_values[0], explainer.expected_value, atol=1e-9)


def test_sparse_logistic_fit_is_reproducible(small_frame: pd.DataFrame) -> None:
    encoder = FieldEncoder(load_config().feature_fields)
    X = encoder.transform(small_frame).to_numpy()
    y = small_frame["is_labour"].to_numpy()
    first, second = (SparseLogisticClassifier(categories=encoder.categories).fit(X, y) for _ in range(2))
    np.testing.assert_array_equal(first.support_, second.support_)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_single_class_is_a_clear_error() -> None:
    X = np.zeros((20, 3), dtype=int)
    with pytest.raises(ValueError, match="exactly two classes"):
        SparseLogisticClassifier().fit(X, np.zeros(20))
