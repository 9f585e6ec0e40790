"""The fairness check ``tarozu promote`` runs: miss rates and false-alarm rates by group, with a power rule.

The gate audits the challenger (:func:`pipeline.fairness.audit.audit_model`, without the
bootstrap: the verdicts do not use it) on the attributes of the people screened
(:data:`PEOPLE_ATTRIBUTES`: gender, age, citizenship, region, destination and the intersections
of gender with age, sector and destination) and refuses promotion when, for a metric it blocks
on (``block_on``: the miss rate by default; the false-alarm rate too if configured),

- a comparison, on observed labels or on the ground truth, is a *disparity* (after the
  report-wide adjustment); or
- the power rule fails: a group holding at least ``min_share`` of the screened people has a
  comparison that is neither shown within tolerance nor could have seen a disparity of
  ``max_detectable`` times (or 1 / ``max_detectable`` times) the reference's rate, whether for
  too few cases or for too wide an interval. Such a group was not checked, and the gate does
  not read that as a pass.

Smaller groups that could not be checked do not block; the summary (and so the model card)
lists them. ``tarozu promote --accept-risk "reason"`` promotes despite a refusal.

Why false alarms warn by default rather than block: where prevalence differs between groups
(sexual exploitation among women and men), a calibrated score at one threshold cannot also give
equal false-alarm rates (Kleinberg, Mullainathan and Raghavan 2016; Chouldechova 2017), so a gate
that blocked on them would refuse every calibrated model and be overridden by habit. A missed
victim is the harm this tool exists to prevent; a false alarm costs a person a longer
conversation. The warnings are listed in the summary, the model card and the run, for the
reviewer to weigh; ``block_on: [miss_rate, false_alarm_rate]`` in the training config's
``promotion.fairness`` makes them block. Attributes of the interview (completeness, language,
setting, migrant status) are audited and reported, not gated: a shorter interview misses more by
design, and the screening says so (``ask_more``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from models.screening import ScreeningModel
from pipeline.config import TrainConfig
from pipeline.fairness.audit import (
    CANNOT_TELL,
    CORRECTION,
    CRITERIA,
    DISPARITY,
    JOIN,
    PRIMARY,
    SECONDARY,
    SECTION_NAMES,
    WITHIN,
    AuditSettings,
    Comparison,
    ModelAudit,
    audit_model,
)
from pipeline.fairness.report import SHORT, describe

PASS, BLOCK = "passed", "refused"
DISPARITY_REASON = "fairness: {description}"
UNVERIFIED_REASON = (
    "fairness (power rule): the {metric} of {attribute} = {group} ({share:.0%} of screened people, {outcome}) "
    "could not be checked on {section}: {cases} {what} against {ref_cases} in {reference}; the data could only "
    "have seen a ratio of {above} or more, or of {below} or less (the rule asks for {limit:g} and 1/{limit:g}). "
    "Evaluate on more data, or accept the risk."
)


PEOPLE_ATTRIBUTES: tuple[str, ...] = (
    "gender",
    "age_band",
    "citizenship",
    "region",
    "destination",
    *(JOIN.join(pair) for pair in (("gender", "age_band"), ("gender", "sector"), ("gender", "destination"))),
)
"""Who the gate protects: attributes of the people screened and the intersections where
exploitation hides (men's sexual exploitation, women's labour exploitation)."""


GATE_METRICS = {"miss_rate": PRIMARY, "false_alarm_rate": SECONDARY}
"""The config's names of the error rates (``promotion.fairness.block_on``), as the audit names them."""


@dataclass(frozen=True)
class GateSettings:
    """The gate's rules (the training config's ``promotion.fairness``) and the audit it runs (the
    config's ``fairness`` section, without the bootstrap): :meth:`from_config`."""

    audit: AuditSettings
    block_on: tuple[str, ...]
    """Error metrics whose disparities (and power rule) block: ``fnr`` (miss rate), ``fpr``."""
    max_detectable: float
    min_share: float
    attributes: tuple[str, ...] = PEOPLE_ATTRIBUTES

    @classmethod
    def from_config(cls, config: TrainConfig) -> GateSettings:
        rules = config.promotion.fairness
        return cls(
            audit=AuditSettings.from_config(config, n_boot=0),
            block_on=tuple(GATE_METRICS[m] for m in rules.block_on),
            max_detectable=rules.max_detectable,
            min_share=rules.min_share,
        )

    def to_json(self) -> dict[str, Any]:
        """The settings as the promotion record keeps them (``fairness_gate.settings``)."""
        return {
            "attributes": list(self.attributes),
            "block_on": list(self.block_on),
            "tolerance": list(self.audit.tolerance),
            "min_cases": self.audit.min_cases,
            "alpha": self.audit.alpha,
            "power": self.audit.power,
            "max_detectable": self.max_detectable,
            "min_share": self.min_share,
            "seed": self.audit.seed,
        }


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict, its reasons to refuse (empty: passes) and what it checked."""

    blocking: tuple[str, ...]
    disparities: tuple[Comparison, ...]
    warnings: tuple[Comparison, ...]
    """Disparities of a metric the gate does not block on (reported for the reviewer)."""
    unverified: tuple[Comparison, ...]
    not_checked: tuple[Comparison, ...]
    checked: int
    rows: int
    thresholds: dict[str, float]
    settings: GateSettings

    @property
    def verdict(self) -> str:
        return BLOCK if self.blocking else PASS

    def to_json(self) -> dict[str, Any]:
        """The record of the decision logged with the promotion (``fairness_gate`` in its JSON)."""
        return {
            "verdict": self.verdict,
            "criterion": CRITERIA,
            "correction": CORRECTION,
            "settings": self.settings.to_json(),
            "rows": self.rows,
            "thresholds": self.thresholds,
            "comparisons_checked": self.checked,
            "blocking": list(self.blocking),
            "disparities": [describe(c) for c in self.disparities],
            "warnings": [describe(c) for c in self.warnings],
            "not_checked_small_groups": [
                f"{c.outcome}: {SHORT[c.metric]} of {c.attribute} = {c.group} ({c.cases} cases)"
                for c in self.not_checked
            ],
        }


def _powered(c: Comparison, limit: float) -> bool:
    return c.verdict == WITHIN or (
        c.verdict == CANNOT_TELL and c.detectable_above <= limit and c.detectable_below >= 1 / limit
    )


def gate_decision(audit: ModelAudit, settings: GateSettings) -> GateResult:
    """Apply the gate's rules to an audit (see the module docstring)."""
    people = {
        (t.attribute, t.outcome, g.group): g.people
        for section in (audit.observed, audit.truth)
        if section is not None
        for t in section.tables
        for g in t.groups
    }
    blocking: list[str] = []
    disparities, warnings, unverified, not_checked = [], [], [], []
    for c in audit.error_comparisons:
        if c.metric not in settings.block_on:
            if c.verdict == DISPARITY:
                warnings.append(c)
            continue
        if c.verdict == DISPARITY:
            disparities.append(c)
            blocking.append(DISPARITY_REASON.format(description=describe(c)))
            continue
        if _powered(c, settings.max_detectable):
            continue
        share = people[(c.attribute, c.outcome, c.group)] / max(audit.rows, 1)
        if share < settings.min_share:
            not_checked.append(c)
            continue
        unverified.append(c)
        blocking.append(
            UNVERIFIED_REASON.format(
                metric=SHORT[c.metric],
                attribute=c.attribute,
                group=c.group,
                share=share,
                outcome=c.outcome,
                section=SECTION_NAMES[c.section],
                cases=c.cases,
                what="victims" if c.metric == "fnr" else "non-victims",
                ref_cases=c.ref_cases,
                reference=c.reference,
                above="any multiple" if c.detectable_above == float("inf") else f"{c.detectable_above:.1f}",
                below="none" if c.detectable_below <= 0 else f"{c.detectable_below:.2f}",
                limit=settings.max_detectable,
            )
        )
    return GateResult(
        blocking=tuple(blocking),
        disparities=tuple(disparities),
        warnings=tuple(warnings),
        unverified=tuple(unverified),
        not_checked=tuple(not_checked),
        checked=len(audit.error_comparisons),
        rows=audit.rows,
        thresholds=dict(audit.thresholds),
        settings=settings,
    )


def fairness_gate(
    model: ScreeningModel,
    frame: pd.DataFrame,
    settings: GateSettings,
    *,
    attributes: Sequence[str] | None = None,
) -> GateResult:
    """Audit ``model`` on ``frame`` and decide (observed labels, and the ground truth when present).

    ``attributes`` overrides the settings' attributes (default :data:`PEOPLE_ATTRIBUTES`).
    """
    attributes = settings.attributes if attributes is None else attributes
    audit = audit_model(model=model, frame=frame, settings=settings.audit, attributes=attributes)
    return gate_decision(audit, settings)
