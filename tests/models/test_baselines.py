"""The published-practice baselines (:mod:`models.baselines`): indicator count and the Delphi rule."""

from __future__ import annotations

import numpy as np
import pytest

from models.baselines import CountScreener, DelphiRuleScreener


def test_baselines_need_indicator_columns() -> None:
    X = np.zeros((10, 2), dtype=int)
    y = np.r_[np.zeros(5), np.ones(5)]
    with pytest.raises(ValueError, match="at least one indicator"):
        CountScreener().fit(X, y)
    with pytest.raises(ValueError, match="at least one indicator"):
        DelphiRuleScreener().fit(X, y)


def test_delphi_rule_combination() -> None:
    """2 strong, or 1 strong + 1 medium, makes a dimension positive; three stages make a likely victim."""
    rule = DelphiRuleScreener(
        indicator_columns=[0, 1, 2, 3, 4, 5],
        dimensions=["r", "r", "e", "e", "c", "c"],
        strengths=["strong", "medium", "strong", "strong", "strong", "medium"],
        stages={"r": "recruitment", "e": "exploitation", "c": "coercion"},
        yes_code=0,
    )
    yes, no = 0, 1
    cases = np.array(
        [
            [yes, yes, yes, yes, yes, yes],  # all three stages positive
            [yes, no, yes, yes, yes, yes],  # recruitment has one strong only
            [no, no, no, no, no, no],
        ]
    )
    assert rule.score(cases).tolist() == [3, 2, 0]
    assert rule.likely_victim(cases).tolist() == [True, False, False]
