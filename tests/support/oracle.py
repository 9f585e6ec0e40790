"""A naive reference scorer for the serving tests, written apart from :mod:`models.engine`.

Plain loops over the tables of a :class:`ScreeningModel` (``outcomes[o].contributions``),
the questionnaire's declared levels and the rules of the interview-aware screening:

- the log-odds of a case is the outcome's base value plus, for every field, the
  contribution of its level; the probability is its logistic;
- the explanation lists the fields that carry evidence only: never a question not asked,
  a declined answer, an unrecorded (``unknown``) context field or ``migrant_status``, whose
  contribution is folded into the base value (the score of an empty form for who is
  screened), so ``base_value + sum(contributions) == log_odds``;
- the band follows the thresholds, except that without a ``yes`` answer (to a question that
  applies) it is at most ``medium``;
- the counts are over the questions that apply to the person's ``migrant_status``;
- the referral tier: per outcome, how many of its thresholds (information, support, nrm)
  the probability reaches; for the person, the highest over outcomes;
- the status: a danger ``yes`` refers to ``nrm``, urgently; otherwise nothing but a settled
  tier refers (``support``, ``nrm``) or rules out a referral (``information``, ``none``), and
  a referral needs a ``yes`` answer (to a question that applies), the screener's ``high``
  concern or the danger question; a case not settled has no tier, and leans to its tier,
  never to ``nrm`` without one of those.

Nothing here calls the engine. Whether a decision is settled is the one thing not
recomputed (it samples); :func:`outlook_inputs` (rule 1) and :func:`common_draws_inputs`
(rule 2) build the arrays of :mod:`models.interview` from the tables directly, so a test can
call it itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from models.questionnaire import load_questionnaire
from models.screening import ScreeningModel

ANSWER_ORDER = ("yes", "no", "dont_know", "declined", "not_asked")
ASKED = ("yes", "no", "dont_know", "declined")
STATUS = "migrant_status"
TIERS = ("none", "information", "support", "nrm")


def logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def level_of(field_id: str, value: Any) -> str:
    """The level a raw value stands for: absent is the reference level, months go to their bin."""
    f = load_questionnaire().field(field_id)
    reference = f.levels[-1]
    if value is None or value == "":
        return reference
    if f.bins and not (isinstance(value, str) and value in f.levels):
        number = int(value)
        for name, low, high in f.bins:
            if low <= number <= high:
                return name
        raise ValueError(f"{field_id}: {value!r} is in no bin")
    if value not in f.levels:
        raise ValueError(f"{field_id}: {value!r} is not a level")
    return str(value)


def applies(field_id: str, status: str) -> bool:
    f = load_questionnaire().field(field_id)
    if f.kind != "indicator":
        return False
    return status == "unknown" or not f.applies_to or status in f.applies_to


def percentile(values: list[float], q: float) -> float:
    """numpy's default (linear) percentile, by hand."""
    ordered = sorted(values)
    rank = q / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class OracleOutcome:
    log_odds: float
    probability: float
    lower: float
    upper: float
    band: str
    above_threshold: bool
    tier: int
    base_value: float
    contributions: dict[str, float]


@dataclass
class OracleCase:
    levels: dict[str, str]
    codes: list[int]
    status_level: str
    outcomes: dict[str, OracleOutcome]
    counts: dict[str, int]
    eligible: bool
    urgent: bool
    unasked: list[str] = field(default_factory=list)

    @property
    def model_tier(self) -> str:
        """The highest tier over outcomes, from the probabilities alone."""
        return TIERS[max(o.tier for o in self.outcomes.values())]

    def status(self, settled: bool) -> str:
        """The recommendation given whether the decision is settled."""
        return self.decision(settled)[0]

    def decision(self, settled: bool) -> tuple[str, str | None, str]:
        """(status, final tier or None, the tier it leans to) given whether the tier is settled."""
        tier = self.model_tier
        leaning = "support" if tier == "nrm" and not self.eligible else tier
        if self.urgent:
            return "refer", "nrm", "nrm"
        if not settled:
            return "ask_more", None, leaning
        if tier in ("support", "nrm"):
            return ("refer", tier, leaning) if self.eligible else ("ask_more", None, leaning)
        return "no_referral", tier, leaning

    def interview_text(self) -> str:
        c = self.counts
        return (
            f"Answered {c['answered']} of {c['total']}; declined {c['declined']}; "
            f"not asked {c['not_asked']} (no effect on the score)"
        )


def score(
    model: ScreeningModel,
    values: Mapping[str, Any],
    *,
    danger: str = "not_asked",
    screener_assessment: str | None = None,
) -> OracleCase:
    """Everything the engine should say about one case, computed by hand."""
    q = load_questionnaire()
    levels = {fid: level_of(fid, values.get(fid)) for fid in model.fields}
    codes = [list(q.field(fid).levels).index(levels[fid]) for fid in model.fields]
    status = levels.get(STATUS, "unknown")
    answered_yes = any(levels[f.id] == "yes" and applies(f.id, status) for f in q.indicators if f.id in levels)
    outcomes: dict[str, OracleOutcome] = {}
    for name in ("labour", "sexual"):
        if name not in model.outcomes:
            continue
        om = model.outcomes[name]
        total = om.base_value
        base = om.base_value
        evidence: dict[str, float] = {}
        for j, fid in enumerate(model.fields):
            value = float(om.contributions[j][codes[j]])
            total += value
            f = q.field(fid)
            level = levels[fid]
            silent = level == f.levels[-1] or (f.kind == "indicator" and level == "declined")
            if fid == STATUS:
                base += value
            elif not silent:
                evidence[fid] = value
        p = logistic(total)
        members = []
        for m, member_base in enumerate(om.ensemble_base_values):
            s = float(member_base)
            for j in range(len(model.fields)):
                s += float(om.ensemble_contributions[j][m][codes[j]])
            members.append(logistic(s))
        if members:
            lower, upper = min(percentile(members, 2.5), p), max(percentile(members, 97.5), p)
        else:
            lower = upper = p
        band = "high" if p >= om.high_threshold else "medium" if p >= om.threshold else "low"
        if band == "high" and not answered_yes:
            band = "medium"  # without a yes answer, non-answers and context alone are at most medium
        outcomes[name] = OracleOutcome(
            log_odds=total,
            probability=p,
            lower=lower,
            upper=upper,
            band=band,
            above_threshold=p >= om.threshold,
            tier=sum(p >= om.referral[t] for t in ("information", "support", "nrm")),
            base_value=base,
            contributions=evidence,
        )
    counts = {"total": 0, "answered": 0, "dont_know": 0, "declined": 0, "not_asked": 0, "not_applicable": 0}
    unasked = []
    for f in q.indicators:
        if f.id not in levels:
            continue
        if not applies(f.id, status):
            counts["not_applicable"] += 1
            continue
        counts["total"] += 1
        answer = levels[f.id]
        if answer == "not_asked":
            counts["not_asked"] += 1
            unasked.append(f.id)
        elif answer == "declined":
            counts["declined"] += 1
        else:
            counts["answered"] += 1
            if answer == "dont_know":
                counts["dont_know"] += 1
    return OracleCase(
        levels=levels,
        codes=codes,
        status_level=status,
        outcomes=outcomes,
        counts=counts,
        eligible=answered_yes or screener_assessment == "high" or danger == "yes",
        urgent=danger == "yes",
        unasked=unasked,
    )


def outlook_inputs(model: ScreeningModel, case: OracleCase) -> dict[str, Any]:
    """Keyword arguments of :func:`models.interview.outlook` for ``case``, from the tables."""
    import numpy as np

    names = [n for n in ("labour", "sexual") if n in model.outcomes]
    status_levels = list(load_questionnaire().field(STATUS).levels)
    s = status_levels.index(case.status_level)
    am = model.answer_model
    tables = np.zeros((len(names), len(case.unasked), len(ASKED)))
    answer_p = np.zeros((am.p.shape[1], len(case.unasked), len(ASKED)))
    for u, fid in enumerate(case.unasked):
        j = model.fields.index(fid)
        for o, name in enumerate(names):
            for a in range(len(ASKED)):
                tables[o, u, a] = model.outcomes[name].contributions[j][a]
        i = am.indicators.index(fid)
        for k in range(am.p.shape[1]):
            for a in range(len(ASKED)):
                answer_p[k, u, a] = am.p[s, k, i, a]
    labour = case.outcomes["labour"].probability if "labour" in case.outcomes else 0.0
    sexual = case.outcomes["sexual"].probability if "sexual" in case.outcomes else 0.0
    class_p = np.array([(1 - labour) * (1 - sexual), labour * (1 - sexual), (1 - labour) * sexual, labour * sexual])
    cutoffs = np.array(
        [
            [math.log(t / (1 - t)) if t < 1 else math.inf for t in (model.outcomes[n].referral[k] for k in TIERS[1:])]
            for n in names
        ]
    )
    return {
        "log_odds": np.array([case.outcomes[n].log_odds for n in names]),
        "cutoffs": cutoffs,
        "tables": tables,
        "answer_p": answer_p,
        "class_p": class_p,
        "level": am.settled_flip_chance,
        "seed": list(case.codes),
    }


def common_draws_inputs(model: ScreeningModel, case: OracleCase) -> tuple[dict[str, Any], dict[str, Any]]:
    """Outlook rule 2 for ``case``, from the tables: the keyword arguments of
    :class:`models.interview.CommonDraws` (every indicator, in the model's field order) and of its
    ``outlook``."""
    import numpy as np

    rule1 = outlook_inputs(model, case)
    names = [n for n in ("labour", "sexual") if n in model.outcomes]
    indicators = [fid for fid in model.fields if fid in model.answer_model.indicators]
    am = model.answer_model
    tables = np.array(
        [
            [
                [model.outcomes[n].contributions[model.fields.index(fid)][a] for a in range(len(ASKED))]
                for fid in indicators
            ]
            for n in names
        ]
    )
    answer_p = am.p[:, :, [am.indicators.index(fid) for fid in indicators], :]
    status_levels = list(load_questionnaire().field(STATUS).levels)
    draws = {"tables": tables, "answer_p": answer_p, "cutoffs": rule1["cutoffs"], "level": rule1["level"]}
    case_kw = {
        "log_odds": rule1["log_odds"],
        "class_p": rule1["class_p"],
        "unasked": np.array([fid in case.unasked for fid in indicators]),
        "status": status_levels.index(case.status_level),
    }
    return draws, case_kw
