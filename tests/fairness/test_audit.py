"""Group metrics, intervals and verdicts of the model audit."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.fairness.audit import (
    BAD_TOLERANCE,
    DISPARITY,
    INSUFFICIENT,
    OK,
    _point_metrics,
    audit_model,
    judge,
    metric_frame,
    metric_functions,
)
from pipeline.metrics import resample_counts, weighted_metrics


def test_weighted_metrics_with_unit_counts_equal_pipeline_metrics() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.3).astype(int)
    p = np.round(rng.random(400), 2)  # ties on purpose
    got = weighted_metrics(y, p, threshold=0.4, weights=np.ones(400))
    for name, fn in metric_functions(0.4).items():
        np.testing.assert_allclose(got[name][0], fn(y, p), rtol=1e-12, err_msg=name)


def test_point_metrics_equal_fairlearn_metric_frame() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.3).astype(int)
    p = rng.random(300)
    groups = pd.Series(rng.choice(["a", "b", "c"], 300))
    ours = _point_metrics(y, p, groups, 0.5)
    theirs = metric_frame(y=y, p=p, groups=groups, threshold=0.5).by_group
    pd.testing.assert_frame_equal(ours[theirs.columns], theirs, check_names=False, check_index_type=False)


def test_group_metrics_match_hand_computed_values() -> None:
    # Group a: y = 1 1 0 0, p = .9 .1 .8 .2 -> TP 1, FN 1, FP 1, TN 1 at threshold .5
    # Group b: y = 1 0, p = .9 .1 -> TP 1, TN 1
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.1, 0.8, 0.2, 0.9, 0.1])
    table = _point_metrics(y, p, pd.Series(["a"] * 4 + ["b"] * 2), 0.5)
    assert table.loc["a", "sensitivity"] == 0.5
    assert table.loc["a", "fnr"] == 0.5
    assert table.loc["a", "fpr"] == 0.5
    assert table.loc["a", "ppv"] == 0.5
    assert table.loc["a", "selection_rate"] == 0.5
    assert table.loc["a", "prevalence"] == 0.5
    assert table.loc["a", "auroc"] == 0.5  # pairs (.9>.8, .9>.2, .1<.8, .1<.2): 2 of 4
    assert table.loc["b", "fnr"] == 0.0
    assert table.loc["b", "auroc"] == 1.0
    # ECE of b: bins .1 (y 0, p .1) and .9 (y 1, p .9): |0-.1| + |1-.9| over 2 rows
    assert table.loc["b", "ece"] == pytest.approx(0.1)


def test_intervals_shrink_with_group_size() -> None:
    rng = np.random.default_rng(5)
    widths = []
    for n in (200, 2000, 20000):
        y = (rng.random(n) < 0.3).astype(int)
        p = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1)
        boot = weighted_metrics(y, p, threshold=0.5, weights=resample_counts(n, n_boot=200, rng=rng))
        widths.append(np.subtract(*np.quantile(boot["fnr"], [0.975, 0.025])))
    assert widths[0] > 2 * widths[1] > 4 * widths[2]


@pytest.mark.parametrize(
    ("lower", "upper", "verdict"),
    [
        (0.9, 1.1, OK),
        (1.3, 2.0, DISPARITY),
        (0.2, 0.7, DISPARITY),
        (0.9, 1.4, INSUFFICIENT),
        (float("nan"), 1.0, INSUFFICIENT),
    ],
)
def test_judge(lower: float, upper: float, verdict: str) -> None:
    assert judge(lower, upper, (0.8, 1.25)) == verdict


def test_small_groups_get_insufficient_data_and_every_group_is_reported(model) -> None:
    from tests.fairness.conftest import fair_frame

    frame = fair_frame(rows=3000, seed=1)
    frame.loc[frame.index[:10], "gender"] = "trans_nonconforming"
    audit = audit_model(model=model, frame=frame, n_boot=50, attributes=["gender", "region"])
    rows = audit["observed"]["attributes"]["gender"]["outcomes"]["labour"]
    assert {r["group"] for r in rows} == {"man", "woman", "trans_nonconforming"}
    small = next(r for r in rows if r["group"] == "trans_nonconforming")
    assert small["size"] == 10
    assert {c["verdict"] for c in small["comparisons"].values()} == {INSUFFICIENT}
    regions = {r["group"] for r in audit["observed"]["attributes"]["region"]["outcomes"]["sexual"]}
    assert regions == set(frame["region"].unique())
    assert audit["truth"] is None
    assert audit["identification_bias"] is None


def test_bad_tolerance_is_refused(model) -> None:
    frame = pd.DataFrame({"is_labour": [0], "is_sexual": [0]})
    with pytest.raises(ValueError, match=re.escape(BAD_TOLERANCE.split("{")[0])):
        audit_model(model=model, frame=frame, tolerance=(1.2, 0.8))
