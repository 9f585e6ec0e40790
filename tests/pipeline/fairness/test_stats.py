"""The one comparison test of the audit: ratio, p-values, adjustment and detectable ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.fairness.stats import adjust, detectable_ratios, ratio_test, wilson

BAND = (0.8, 1.25)


def test_equal_rates_are_not_a_disparity_and_a_large_gap_is() -> None:
    same = ratio_test(events=100, cases=1000, ref_events=100, ref_cases=1000, tolerance=BAND)
    assert same.ratio == pytest.approx(1.0)
    assert same.lower < 1 < same.upper
    assert same.p_disparity == 1.0
    assert same.p_within < 0.05  # 1000 cases each: equivalence within 0.8-1.25 is shown
    gap = ratio_test(events=300, cases=1000, ref_events=100, ref_cases=1000, tolerance=BAND)
    assert gap.ratio == pytest.approx(3.0, rel=0.01)
    assert gap.p_disparity < 1e-10
    assert gap.p_within > 0.99


def test_a_group_without_a_single_event_still_has_a_finite_ratio() -> None:
    none = ratio_test(events=0, cases=40, ref_events=20, ref_cases=200, tolerance=BAND)
    assert math.isfinite(none.ratio)
    assert math.isfinite(none.se_log)
    assert none.ratio < 1


def test_adjustment_is_benjamini_hochberg() -> None:
    assert adjust([0.01, 0.02, 0.5]) == pytest.approx([0.03, 0.03, 0.5])
    assert adjust([]) == []


def test_detectable_ratio_shrinks_with_cases_and_grows_with_comparisons() -> None:
    kwargs = {"ref_cases": 2000, "ref_rate": 0.1, "tolerance": BAND, "alpha": 0.05}
    sizes = [detectable_ratios(cases=n, comparisons=10, **kwargs)[0] for n in (30, 300, 3000)]
    assert sizes[0] > sizes[1] > sizes[2] > BAND[1]
    assert detectable_ratios(cases=300, comparisons=500, **kwargs)[0] > sizes[1]
    assert detectable_ratios(cases=0, comparisons=10, **kwargs) == (math.inf, 0.0)


def test_detectable_ratio_is_found_with_the_stated_power() -> None:
    """Simulated: at the detectable ratio the test finds the disparity in about 80% of draws."""
    rng = np.random.default_rng(0)
    cases, ref_cases, ref_rate, comparisons = 200, 2000, 0.1, 20
    above, _ = detectable_ratios(
        cases=cases, ref_cases=ref_cases, ref_rate=ref_rate, tolerance=BAND, alpha=0.05, comparisons=comparisons
    )
    level = 0.05 / comparisons
    draws = 2000
    found = sum(
        ratio_test(
            events=int(rng.binomial(cases, above * ref_rate)),
            cases=cases,
            ref_events=int(rng.binomial(ref_cases, ref_rate)),
            ref_cases=ref_cases,
            tolerance=BAND,
        ).p_disparity
        <= level
        for _ in range(draws)
    )
    assert 0.72 <= found / draws <= 0.88, found / draws


def test_wilson_interval() -> None:
    lower, upper = wilson(10, 100)
    assert lower == pytest.approx(0.0552, abs=1e-3)
    assert upper == pytest.approx(0.1744, abs=1e-3)
    assert all(math.isnan(v) for v in wilson(0, 0))
