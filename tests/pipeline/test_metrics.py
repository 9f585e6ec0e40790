"""The project's metric definitions: against scikit-learn, and their bootstrap forms against them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from pipeline.metrics import all_metrics, bootstrap_metrics, expected_calibration_error, weighted_metrics


@pytest.fixture
def scores(global_random_seed):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(global_random_seed)
    y = (rng.random(3000) < 0.1).astype(int)
    p = np.clip(0.05 + 0.3 * y * rng.random(3000) + 0.2 * rng.random(3000), 0, 1)
    p[::9] = 0.2  # ties
    return y, p


def test_point_metrics_match_scikit_learn(scores):  # type: ignore[no-untyped-def]
    y, p = scores
    m = all_metrics(0.25)
    assert m["auroc"](y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"](y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert m["log_loss"](y, p) == pytest.approx(log_loss(y, p), abs=1e-12)
    assert m["brier"](y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    flagged = p >= 0.25
    assert m["sensitivity"](y, p) == pytest.approx(flagged[y == 1].mean())
    assert m["npv"](y, p) == pytest.approx((y[~flagged] == 0).mean())


def test_weighted_forms_with_unit_weights_equal_the_definitions(scores):  # type: ignore[no-untyped-def]
    y, p = scores
    reference = all_metrics(0.25)
    weighted = weighted_metrics(y, p, threshold=0.25, weights=np.ones(len(y)), metrics=tuple(reference))
    for name, fn in reference.items():
        assert weighted[name][0] == pytest.approx(fn(y, p), abs=1e-12), name


def test_weighted_forms_equal_metrics_of_the_resampled_rows(scores):  # type: ignore[no-untyped-def]
    y, p = scores
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(y), len(y))
    counts = np.bincount(idx, minlength=len(y)).astype(float)
    reference = all_metrics(0.25)
    weighted = weighted_metrics(y, p, threshold=0.25, weights=counts, metrics=tuple(reference))
    for name, fn in reference.items():
        assert weighted[name][0] == pytest.approx(fn(y[idx], p[idx]), abs=1e-10), name


def test_bootstrap_interval_contains_the_estimate_and_shrinks_with_n(global_random_seed):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(global_random_seed)
    widths = []
    for n in (500, 8000):
        y = (rng.random(n) < 0.2).astype(int)
        p = np.clip(0.2 + 0.3 * (y - 0.2) + 0.2 * rng.normal(size=n), 0, 1)
        out = bootstrap_metrics(y, p, metrics=all_metrics(0.3), threshold=0.3, n_boot=200, seed=0)
        assert out["auroc"]["lower"] <= out["auroc"]["value"] <= out["auroc"]["upper"]
        widths.append(out["auroc"]["upper"] - out["auroc"]["lower"])
    assert widths[1] < widths[0] / 2


def test_ece_of_a_calibrated_score_is_small_and_of_a_shifted_one_large(global_random_seed):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(global_random_seed)
    p = rng.uniform(0, 0.5, 50_000)
    y = (rng.random(p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p + 0.1, 0, 1)) > 0.08
