"""Referral tiers against capacity: choose the thresholds on the calibration split, report them on the test split.

The rule (see :mod:`models.referral` for the tiers): an outcome's tier is the highest whose
threshold its probability reaches, and a person's tier the highest over outcomes. A tier's
thresholds come from one *level* ``s`` shared by the outcomes: each outcome's threshold is
the highest probability at which that outcome's sensitivity on the calibration split is at
least ``s`` (its victims sorted by probability, as the operating threshold is chosen). So a
tier catches the same share of labour as of sexual victims, and the share of people a tier
(and the tiers above it) holds and the share of victims it catches both grow with ``s``:

- ``nrm``: the largest level whose tier holds at most ``nrm_max_share`` of the people (the
  capacity of the national referral mechanism);
- ``support``: the smallest level at which ``nrm`` and ``support`` together hold at least
  ``sensitivity`` of the people exploited in either way (and never below the nrm level);
- ``information``: the same with ``information_sensitivity`` for the three tiers together.

The rates are of people as interviewed in the split (full interviews). A person screened
with fewer questions is placed by the same thresholds, but only once the tier is settled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.calibration import threshold_for_sensitivity
from models.referral import EMPTY, THRESHOLD_TIERS, TIERS, person_tiers
from pipeline.config import ReferralConfig
from pipeline.metrics import resample_counts


@dataclass(frozen=True)
class Achieved:
    """What the chosen thresholds give on the split they were chosen on (the calibration split)."""

    people: int
    victims: int
    nrm_share: float
    sensitivity_at_or_above: Mapping[str, float]
    """Per tier (nrm, support, information), the share of victims placed in it or a higher one."""

    def to_json(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "victims": self.victims,
            "nrm_share": self.nrm_share,
            "sensitivity_at_or_above": dict(self.sensitivity_at_or_above),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Achieved:
        return cls(
            people=int(raw["people"]),
            victims=int(raw["victims"]),
            nrm_share=float(raw["nrm_share"]),
            sensitivity_at_or_above={t: float(v) for t, v in raw["sensitivity_at_or_above"].items()},
        )


@dataclass(frozen=True)
class ReferralChoice:
    """The thresholds per outcome and tier, and what they give on the split they were chosen on."""

    thresholds: dict[str, dict[str, float]]
    levels: dict[str, float]
    """Per tier, the per-outcome sensitivity level its thresholds share."""
    achieved: Achieved
    """On the calibration split: the people in nrm, and the victims in each tier and above."""


@dataclass(frozen=True)
class Share:
    """A share with its 95% bootstrap interval; None where undefined (no one to divide by)."""

    value: float | None
    lower: float | None
    upper: float | None

    def to_json(self) -> dict[str, float | None]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Share:
        return cls(*(None if raw[k] is None else float(raw[k]) for k in ("value", "lower", "upper")))


@dataclass(frozen=True)
class TierResult:
    """One tier on one split: who is placed in it, and its rate, PPV and sensitivities."""

    people: int
    victims: int
    rate: Share
    ppv: Share
    sensitivity: Share
    sensitivity_at_or_above: Share

    def to_json(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "victims": self.victims,
            "rate": self.rate.to_json(),
            "ppv": self.ppv.to_json(),
            "sensitivity": self.sensitivity.to_json(),
            "sensitivity_at_or_above": self.sensitivity_at_or_above.to_json(),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TierResult:
        return cls(
            people=int(raw["people"]),
            victims=int(raw["victims"]),
            rate=Share.from_json(raw["rate"]),
            ppv=Share.from_json(raw["ppv"]),
            sensitivity=Share.from_json(raw["sensitivity"]),
            sensitivity_at_or_above=Share.from_json(raw["sensitivity_at_or_above"]),
        )


@dataclass(frozen=True)
class TierReport:
    """Every tier on one split (the test split), highest first."""

    people: int
    victims: int
    tiers: Mapping[str, TierResult]

    def to_json(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "victims": self.victims,
            "tiers": {t: e.to_json() for t, e in self.tiers.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TierReport:
        return cls(
            people=int(raw["people"]),
            victims=int(raw["victims"]),
            tiers={t: TierResult.from_json(e) for t, e in raw["tiers"].items()},
        )


@dataclass(frozen=True)
class ReferralSummary:
    """The model card's referral section: the rule the model carries (settings, levels, what they gave
    on the calibration split; absent for a model without it), its thresholds, and each tier on the
    test split."""

    thresholds: Mapping[str, Mapping[str, float]]
    test: TierReport
    settings: Mapping[str, float] | None = None
    levels: Mapping[str, float] | None = None
    calibration: Achieved | None = None
    combine: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.settings is not None:
            out["settings"] = dict(self.settings)
        if self.levels is not None:
            out["levels"] = dict(self.levels)
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_json()
        if self.combine is not None:
            out["combine"] = self.combine
        out["thresholds"] = {o: dict(t) for o, t in self.thresholds.items()}
        out["test"] = self.test.to_json()
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ReferralSummary:
        return cls(
            thresholds={o: {t: float(v) for t, v in th.items()} for o, th in raw["thresholds"].items()},
            test=TierReport.from_json(raw["test"]),
            settings=raw.get("settings"),
            levels=raw.get("levels"),
            calibration=None if raw.get("calibration") is None else Achieved.from_json(raw["calibration"]),
            combine=raw.get("combine"),
        )

    @classmethod
    def of(
        cls, rule: Mapping[str, Any], thresholds: Mapping[str, Mapping[str, float]], test: TierReport
    ) -> ReferralSummary:
        """The summary of a model whose metadata carries ``rule`` (its ``referral`` entry; may be empty)."""
        return cls.from_json({**rule, "thresholds": thresholds, "test": test.to_json()})


def _breakpoints(y: Mapping[str, np.ndarray]) -> np.ndarray:
    """Every level at which some outcome's threshold moves: ``k / n_o`` for its ``n_o`` victims."""
    points = [np.arange(1, int(np.sum(v)) + 1) / int(np.sum(v)) for v in y.values() if np.sum(v) > 0]
    return np.unique(np.concatenate(points)) if points else np.array([1.0])


def _at_level(p: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray], level: float) -> dict[str, float]:
    return {o: threshold_for_sensitivity(p[o], y[o], sensitivity=min(1.0, level)) for o in p}


def _flagged(p: Mapping[str, np.ndarray], thresholds: Mapping[str, float]) -> np.ndarray:
    return np.any(np.vstack([np.asarray(p[o]) >= thresholds[o] for o in p]), axis=0)


def choose_tiers(p: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray], config: ReferralConfig) -> ReferralChoice:
    """The tier thresholds of each outcome from probabilities ``p`` and labels ``y`` of one split."""
    outcomes = list(p)
    victim = np.any(np.vstack([np.asarray(y[o]) == 1 for o in outcomes]), axis=0)
    if not victim.any():
        raise ValueError("cannot choose referral tiers: the calibration split has no exploited people")
    levels = _breakpoints(y)

    def share(level: float) -> float:
        return float(np.mean(_flagged(p, _at_level(p, y, level))))

    def sensitivity(level: float) -> float:
        return float(np.mean(_flagged(p, _at_level(p, y, level))[victim]))

    def first(predicate: Any) -> int:
        """The first index of ``levels`` where a predicate that only turns true holds (len if never)."""
        lo, hi = 0, len(levels)
        while lo < hi:
            mid = (lo + hi) // 2
            if predicate(float(levels[mid])):
                hi = mid
            else:
                lo = mid + 1
        return lo

    chosen: dict[str, float] = {}
    thresholds: dict[str, dict[str, float]] = {o: {} for o in outcomes}
    over = first(lambda s: share(s) > config.nrm_max_share)
    if over == 0:  # even the single most likely victim's threshold takes in too many people
        chosen["nrm"] = 0.0
        for o in outcomes:
            thresholds[o]["nrm"] = EMPTY
    else:
        chosen["nrm"] = float(levels[over - 1])
        for o, t in _at_level(p, y, chosen["nrm"]).items():
            thresholds[o]["nrm"] = t
    below = chosen["nrm"]
    for tier, target in (("support", config.sensitivity), ("information", config.information_sensitivity)):
        index = min(first(lambda s, t=target: sensitivity(s) >= t), len(levels) - 1)
        chosen[tier] = max(float(levels[index]), below)
        at = _at_level(p, y, chosen[tier]) if chosen[tier] > 0 else {o: EMPTY for o in outcomes}
        upper = "nrm" if tier == "support" else "support"
        for o in outcomes:
            thresholds[o][tier] = min(at[o], thresholds[o][upper])
        below = chosen[tier]
    ordered = {o: {t: thresholds[o][t] for t in THRESHOLD_TIERS} for o in outcomes}
    tiers = person_tiers(p, ordered)
    achieved = Achieved(
        people=len(victim),
        victims=int(victim.sum()),
        nrm_share=float(np.mean(tiers == TIERS.index("nrm"))),
        sensitivity_at_or_above={
            t: float(np.mean(tiers[victim] >= TIERS.index(t))) for t in ("nrm", "support", "information")
        },
    )
    return ReferralChoice(thresholds=ordered, levels=chosen, achieved=achieved)


def tier_report(
    p: Mapping[str, np.ndarray],
    y: Mapping[str, np.ndarray],
    thresholds: Mapping[str, Mapping[str, float]],
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> TierReport:
    """Per tier on one split (the test split): its share of people, PPV and sensitivity, with intervals.

    ``rate`` is the share of people placed in the tier (the referrals it expects), ``ppv`` the
    share of them exploited in either way, ``sensitivity`` the share of exploited people placed
    in it, and ``sensitivity_at_or_above`` the share placed in it or a higher tier. Intervals are
    95% percentile bootstraps of people.
    """
    outcomes = list(p)
    victim = np.any(np.vstack([np.asarray(y[o]) == 1 for o in outcomes]), axis=0).astype(float)
    tiers = person_tiers(p, thresholds)
    n = len(victim)
    weights = np.hstack([np.ones((n, 1)), resample_counts(n, n_boot=n_boot, rng=np.random.default_rng(seed))])
    total = weights.sum(axis=0)
    victims = victim @ weights

    def ratio(num: np.ndarray, den: np.ndarray) -> Share:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        rest = values[1:][~np.isnan(values[1:])]
        lower, upper = np.quantile(rest, [0.025, 0.975]) if rest.size else (np.nan, np.nan)
        point = None if np.isnan(values[0]) else float(values[0])
        return Share(
            value=point,
            lower=None if np.isnan(lower) else float(lower),
            upper=None if np.isnan(upper) else float(upper),
        )

    report: dict[str, TierResult] = {}
    for k in range(len(TIERS) - 1, -1, -1):
        tier = TIERS[k]
        inside = (tiers == k).astype(float)
        at_or_above = (tiers >= k).astype(float)
        report[tier] = TierResult(
            people=int(inside.sum()),
            victims=int((inside * victim).sum()),
            rate=ratio(inside @ weights, total),
            ppv=ratio((inside * victim) @ weights, inside @ weights),
            sensitivity=ratio((inside * victim) @ weights, victims),
            sensitivity_at_or_above=ratio((at_or_above * victim) @ weights, victims),
        )
    return TierReport(people=n, victims=int(victim.sum()), tiers=report)
