"""The fairness check ``tarozu promote`` runs: missed-victim (FNR) parity by group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from models.screening import ScreeningModel
from pipeline.fairness.audit import DISPARITY, PRIMARY, audit_model

BLOCK_REASON = (
    "fairness ({section}): {outcome} false negative rate of {attribute}={group!r} is {ratio:.2f}x the "
    "reference {reference!r} (corrected interval {lower:.2f}-{upper:.2f}, tolerance {lo}-{hi}): "
    "victims in this group are missed more often"
)
BLOCK_REASON_LOW = (
    "fairness ({section}): {outcome} false negative rate of the reference {reference!r} is "
    "{inverse:.2f}x that of {attribute}={group!r} (corrected interval of {group!r}/{reference!r} "
    "{lower:.2f}-{upper:.2f}, tolerance {lo}-{hi}): victims in the reference group are missed more often"
)


@dataclass
class GateResult:
    """Reasons to refuse promotion (empty: passes) and a JSON-able summary of what was checked."""

    blocking: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def fairness_gate(
    model: ScreeningModel,
    frame: pd.DataFrame,
    *,
    tolerance: tuple[float, float] = (0.8, 1.25),
    min_group_size: int = 30,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> GateResult:
    """Block when a group with enough data has an FNR disparity beyond tolerance after correction.

    Checked on the observed labels and, when the frame carries synthetic ground truth, on the
    true state too; a disparity in either blocks.
    """
    audit = audit_model(
        model=model,
        frame=frame,
        tolerance=tolerance,
        min_group_size=min_group_size,
        n_boot=n_boot,
        alpha=alpha,
        seed=seed,
        metrics=[PRIMARY],
    )
    blocking: list[str] = []
    checked: dict[str, Any] = {}
    lo, hi = tolerance
    for section in ("observed", "truth"):
        result = audit[section]
        if result is None:
            continue
        verdicts: dict[str, int] = {}
        for attribute, entry in result["attributes"].items():
            for outcome, rows in entry["outcomes"].items():
                for row in rows:
                    comparison = row["comparisons"].get(PRIMARY)
                    if comparison is None:
                        continue
                    verdicts[comparison["verdict"]] = verdicts.get(comparison["verdict"], 0) + 1
                    if comparison["verdict"] != DISPARITY:
                        continue
                    values = {
                        "section": "observed labels" if section == "observed" else "ground truth",
                        "outcome": outcome,
                        "attribute": attribute,
                        "group": row["group"],
                        "reference": entry["reference"],
                        "ratio": comparison["ratio"],
                        "inverse": 1.0 / comparison["ratio"],
                        "lower": comparison["ratio_lower"],
                        "upper": comparison["ratio_upper"],
                        "lo": lo,
                        "hi": hi,
                    }
                    template = BLOCK_REASON if comparison["ratio"] > 1 else BLOCK_REASON_LOW
                    blocking.append(template.format(**values))
        checked[section] = {"n_comparisons": result["n_comparisons"].get(PRIMARY, 0), "verdicts": verdicts}
    summary = {
        "metric": PRIMARY,
        "criterion": audit["criteria"],
        "correction": audit["correction"],
        "tolerance": list(tolerance),
        "min_group_size": min_group_size,
        "n_boot": n_boot,
        "alpha": alpha,
        "rows": audit["rows"],
        "thresholds": audit["thresholds"],
        "checked": checked,
        "attributes": list(audit["observed"]["attributes"]),
        "blocking": blocking,
    }
    return GateResult(blocking=blocking, summary=summary)
