"""Referral tiers: where a screened person is sent, set against the capacity of who receives them.

Four tiers, lowest first:

- ``none``: no referral;
- ``information``: safe-migration information (rights at work, contracts, whom to call);
- ``support``: legal, labour-rights or migrant-support services;
- ``nrm``: specialist assessment under the national referral mechanism.

Each outcome (labour, sexual exploitation) has three probability thresholds, one per tier
above ``none``, ascending. An outcome's tier is the highest whose threshold its probability
reaches, and a person's tier is the highest over the outcomes: a person with strong signs of
one type of exploitation is referred for it whatever the other type's score.

Training chooses the thresholds on the calibration split (:mod:`pipeline.referral`); the
engine (:mod:`models.engine`) adds the interview's rules (a settled case only, never a
referral on non-answers alone, a danger ``yes`` is ``nrm`` at once).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

TIERS: tuple[str, ...] = ("none", "information", "support", "nrm")
"""The tiers, lowest first: a tier's index is how many thresholds were reached."""
THRESHOLD_TIERS: tuple[str, ...] = TIERS[1:]
"""The tiers that have a threshold, in ascending order."""
REFERRAL_TIERS: tuple[str, ...] = ("support", "nrm")
"""The tiers that refer a person to a service (status ``refer``)."""
EMPTY = 2.0
"""A threshold no probability reaches: the tier is empty (its capacity allowed no one)."""
BAD_TIERS = "outcome {outcome!r}: referral thresholds {thresholds} must be in (0, 2], ascending from information to nrm"


def check_thresholds(outcome: str, thresholds: Mapping[str, float]) -> dict[str, float]:
    """The thresholds as floats in tier order; a clear error when they are missing or out of order."""
    try:
        values = [float(thresholds[t]) for t in THRESHOLD_TIERS]
    except KeyError:
        raise ValueError(BAD_TIERS.format(outcome=outcome, thresholds=dict(thresholds))) from None
    if any(not 0.0 < v <= EMPTY for v in values) or any(a > b for a, b in itertools.pairwise(values)):
        raise ValueError(BAD_TIERS.format(outcome=outcome, thresholds=dict(thresholds)))
    return dict(zip(THRESHOLD_TIERS, values, strict=True))


def outcome_tiers(probability: np.ndarray, thresholds: Mapping[str, float]) -> np.ndarray:
    """Each case's tier index for one outcome: how many of its thresholds the probability reaches."""
    p = np.asarray(probability, dtype=float)
    return sum((p >= thresholds[t]).astype(np.int64) for t in THRESHOLD_TIERS)  # type: ignore[return-value]


def person_tiers(probabilities: Mapping[str, np.ndarray], thresholds: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """Each case's tier index: the highest over the outcomes."""
    per_outcome = [outcome_tiers(probabilities[o], thresholds[o]) for o in probabilities]
    return np.max(np.vstack(per_outcome), axis=0)
