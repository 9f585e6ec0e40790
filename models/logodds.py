"""The logit and its inverse, in numpy alone (the scoring path imports nothing heavier)."""

from __future__ import annotations

import numpy as np


def logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)


def expit(z: np.ndarray | float) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return np.exp(-np.logaddexp(0.0, -z))
