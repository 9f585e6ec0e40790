"""The one test the fairness audit uses to compare two rates, and how much it could see.

A comparison is a group's rate against its reference group's: missed victims among victims
(false negative rate), flagged people among non-victims (false positive rate), or labelled
victims among true victims (identification rate). Its ratio is judged against a tolerance
band ``(lower, upper)`` around 1:

- *disparity*: the ratio lies outside the band (a test of "the ratio is inside the band");
- *within tolerance*: the ratio lies inside the band (two one-sided tests, TOST);
- otherwise the data cannot tell, and :func:`detectable_ratios` says how large a disparity
  it could have seen with the configured power.

The ratio is estimated on the log scale with half a count added to each cell
(Haldane-Anscombe), so that a group without a single miss still has a finite ratio and
standard error. The p-values of all comparisons of one report are adjusted together with
Benjamini-Hochberg (:func:`scipy.stats.false_discovery_control`); when no group differs in
truth this keeps the chance of any "disparity" in the report at ``alpha`` or below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy.stats import binomtest, false_discovery_control

_NORMAL = NormalDist()


@dataclass(frozen=True)
class RatioTest:
    """A group's rate against the reference's, before adjustment for multiple comparisons."""

    ratio: float
    lower: float
    upper: float
    se_log: float
    p_disparity: float
    p_within: float


def _log_ratio(events: int, cases: int, ref_events: int, ref_cases: int) -> tuple[float, float]:
    a, n, b, m = events + 0.5, cases + 0.5, ref_events + 0.5, ref_cases + 0.5
    log_r = math.log(a / n) - math.log(b / m)
    se = math.sqrt(max(1 / a - 1 / n + 1 / b - 1 / m, 0.0))
    return log_r, se


def ratio_test(
    *,
    events: int,
    cases: int,
    ref_events: int,
    ref_cases: int,
    tolerance: tuple[float, float],
    level: float = 0.95,
) -> RatioTest:
    """Ratio of ``events/cases`` to ``ref_events/ref_cases`` with its interval and p-values.

    ``p_disparity`` tests "the ratio is inside the tolerance band" (small when it is outside);
    ``p_within`` tests "the ratio is outside it" (small when it is inside).
    """
    log_r, se = _log_ratio(events, cases, ref_events, ref_cases)
    lo, hi = math.log(tolerance[0]), math.log(tolerance[1])
    z = _NORMAL.inv_cdf(0.5 + level / 2)
    if se == 0:
        outside = log_r > hi or log_r < lo
        return RatioTest(math.exp(log_r), math.exp(log_r), math.exp(log_r), 0.0, 0.0 if outside else 1.0, 1.0)
    above = (log_r - hi) / se  # large when the ratio is above the band
    below = (lo - log_r) / se  # large when the ratio is below it
    p_disparity = min(1.0, 2 * min(1 - _NORMAL.cdf(above), 1 - _NORMAL.cdf(below)))
    p_within = max(_NORMAL.cdf(above), _NORMAL.cdf(below))
    return RatioTest(
        ratio=math.exp(log_r),
        lower=math.exp(log_r - z * se),
        upper=math.exp(log_r + z * se),
        se_log=se,
        p_disparity=p_disparity,
        p_within=p_within,
    )


def adjust(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values of one family of comparisons (empty: empty)."""
    if not len(p_values):
        return []
    return [float(v) for v in false_discovery_control(np.asarray(p_values, dtype=float), method="bh")]


def detectable_ratios(
    *,
    cases: int,
    ref_cases: int,
    ref_rate: float,
    tolerance: tuple[float, float],
    alpha: float,
    comparisons: int,
    power: float = 0.8,
) -> tuple[float, float]:
    """The smallest ratios above and below the band that the disparity test would find with ``power``.

    ``ref_rate`` is the reference's rate; the group has ``cases`` cases (victims for a miss
    rate, non-victims for a false-alarm rate). The level is ``alpha / comparisons``
    (Benjamini-Hochberg's threshold when one comparison is a disparity), so the figure is
    conservative. A ratio the data could not see at all is ``inf`` above and ``0`` below.
    """
    if cases <= 0 or ref_cases <= 0:
        return math.inf, 0.0
    p0 = min(max(ref_rate, 0.5 / (ref_cases + 0.5)), 1 - 0.5 / (ref_cases + 0.5))
    need = _NORMAL.inv_cdf(1 - alpha / (2 * max(comparisons, 1))) + _NORMAL.inv_cdf(power)

    def margin(ratio: np.ndarray) -> np.ndarray:
        p1 = np.clip(ratio * p0, 1e-12, 1 - 1e-12)
        se = np.sqrt((1 - p1) / (cases * p1) + (1 - p0) / (ref_cases * p0))
        edge = np.where(ratio > 1, tolerance[1], tolerance[0])
        return np.abs(np.log(ratio) - np.log(edge)) - need * se

    def nearest(edge: float, far: float) -> float:
        """The first ratio from ``edge`` towards ``far`` (a 0.5% grid) with a non-negative margin; nan if none."""
        grid = np.geomspace(edge, far, max(2, int(abs(math.log(far / edge)) / 0.005)))[1:]
        ok = np.flatnonzero(margin(grid) >= 0)
        return float(grid[ok[0]]) if ok.size else math.nan

    top = (1 - 1e-9) / p0  # the ratio at which the group's rate would be 1
    above = nearest(tolerance[1], top) if top > tolerance[1] else math.nan
    below = nearest(tolerance[0], 1e-3 * tolerance[0])
    return (math.inf if math.isnan(above) else above), (0.0 if math.isnan(below) else below)


def wilson(events: int, cases: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (:func:`scipy.stats.binomtest`); ``nan`` without cases."""
    if cases <= 0:
        return math.nan, math.nan
    ci = binomtest(int(events), int(cases)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)
