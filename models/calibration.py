"""Calibration and operating points that keep explanations exact.

Platt scaling maps log-odds ``z`` to ``a * z + c``: every contribution is scaled by the
same ``a``, so the calibrated explanation still adds up exactly. Isotonic calibration
would not, and is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

NO_POSITIVES = "cannot choose an operating threshold: the calibration split has no positive cases"
BAD_SENSITIVITY = "target sensitivity must be in (0, 1], got {value}"


@dataclass(frozen=True)
class Platt:
    """``calibrated log-odds = slope * log-odds + intercept``."""

    slope: float
    intercept: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.slope * np.asarray(z, dtype=float) + self.intercept


def fit_platt(z: np.ndarray, y: np.ndarray) -> Platt:
    """Fit Platt scaling of log-odds ``z`` to binary outcomes ``y`` (unpenalised)."""
    model = LogisticRegression(C=1e8, tol=1e-10, max_iter=1000).fit(np.asarray(z).reshape(-1, 1), y)
    return Platt(slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]))


def threshold_for_sensitivity(p: np.ndarray, y: np.ndarray, *, sensitivity: float) -> float:
    """The highest probability threshold whose sensitivity (``p >= t``) is at least ``sensitivity``."""
    if not 0 < sensitivity <= 1:
        raise ValueError(BAD_SENSITIVITY.format(value=sensitivity))
    positives = np.sort(np.asarray(p)[np.asarray(y) == 1])[::-1]
    if positives.size == 0:
        raise ValueError(NO_POSITIVES)
    k = int(np.ceil(sensitivity * positives.size)) - 1
    return float(positives[k])
