"""Log-odds arithmetic in numpy alone: the logit, its inverse and the reach of a capped group
(the scoring path imports nothing heavier)."""

from __future__ import annotations

import numpy as np


def logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)


def expit(z: np.ndarray | float) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return np.exp(-np.logaddexp(0.0, -z))


def capped_total(weights: np.ndarray) -> float:
    """How far a group of capped weights can move the log-odds: the larger of the sum of the
    positive weights and the size of the sum of the negative ones."""
    weights = np.asarray(weights, dtype=float)
    return max(float(weights[weights > 0].sum()), float(-weights[weights < 0].sum()))
