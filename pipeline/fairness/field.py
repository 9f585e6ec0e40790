"""Field review: what was actually screened, decided and found, from the serving audit log.

The fairness audit (:mod:`pipeline.fairness.audit`) measures a model against labels; the field
review measures the whole decision process in the field: the scores, the model's
recommendations, the screeners' decisions and overrides, the specialists' outcomes and drift
against the training data, by group. ``tarozu audit --from-log`` writes it.

Input (:data:`SCREENINGS_SCHEMA`): one row per screening with the audit attributes, the answers
per questionnaire field, ``labour_probability``, ``sexual_probability``, ``refer`` (the model's
recommendation), ``screener_assessment`` (low/medium/high, recorded before the score),
``decision`` (referred / not_referred / needs_more_information or empty), and optionally
``override_reason``, ``created_at``, ``screening_id``, ``referral_tier`` and ``outcome`` (the
latest specialist outcome). :func:`screenings_frame` turns the audit log's nested rows into it.

Only referred people normally get an outcome (selective labels), so the log alone cannot say
how many victims were not referred. The follow-up protocol of ``docs/responsible-use.md``
follows up a random sample of unreferred people: a screening is in the sample when
:func:`in_follow_up_sample` says so (a hash of its screening id, so no flag has to be
stored and nobody chooses whom to follow up); their outcomes estimate the victims among the
unreferred.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from models.outcomes import OTHER_FINDING_OUTCOMES, TRAFFICKING_OUTCOMES, UNKNOWN_OUTCOME
from models.questionnaire import load_questionnaire
from pipeline.data.frames import pa, pa_errors
from pipeline.fairness.audit import COMPLETENESS, audit_attributes, group_labels
from pipeline.fairness.stats import wilson
from serving.auditlog.database import make_engine
from serving.auditlog.queries import flat_values, iter_screenings
from serving.settings import database_url as default_database_url

TITLE = "Field review of what was screened"
KIND = "screenings"
"""The ``kind`` of a field review's ``report.json`` (a model's fairness audit is ``model``)."""
PSI_WATCH, PSI_ACT = 0.1, 0.25
SCORE_BINS = 10
LOGGED_PROBABILITIES = {"labour": "labour_probability", "sexual": "sexual_probability"}
"""Column of each outcome's logged probability in the flat log frame (not the generator's ``p_*``)."""
REFERRED = "referred"
DECISIONS = ("referred", "not_referred", "needs_more_information")
ASSESSMENTS = ("low", "medium", "high")
ASSESSMENT_LEVELS = (*ASSESSMENTS, "not recorded")
VICTIM_OUTCOMES = TRAFFICKING_OUTCOMES
NO_OUTCOME = frozenset({UNKNOWN_OUTCOME})
FOLLOW_UP_RATE = 0.05
MIN_GROUP = 30
SELECTIVE_LABELS = (
    "{unreferred:,} of {screenings:,} screened people were not referred; {without:.0%} of them have no "
    "specialist outcome, so how many victims the screening missed is unknown from referrals alone."
)
FOLLOW_UP_NONE = (
    "No unreferred person of the random follow-up sample (rate {rate:.0%}) has an outcome yet: missed "
    "victims cannot be estimated. See the follow-up protocol in docs/responsible-use.md."
)
FOLLOW_UP_ESTIMATE = (
    "Random follow-up: {victims} of {followed} followed-up unreferred people were victims ({share:.1%}, 95% "
    "interval {lower:.1%}-{upper:.1%}), about {missed:,.0f} missed victims among the {unreferred:,} unreferred."
)
MISSING_LOG_COLUMN = "screening rows lack column(s) {columns}; see pipeline.fairness.field for the layout"
BAD_LOG_FRAME = "the screenings to review do not fit the field review's layout (pipeline.fairness.field): {problems}"

SCREENINGS_SCHEMA = pa.DataFrameSchema(
    {
        **{c: pa.Column(float, pa.Check.in_range(0.0, 1.0), coerce=True) for c in LOGGED_PROBABILITIES.values()},
        "refer": pa.Column(bool, coerce=True),
        "screener_assessment": pa.Column(None, pa.Check.isin(ASSESSMENTS), nullable=True),
        "decision": pa.Column(None, pa.Check.isin(DECISIONS), nullable=True),
    },
    strict=False,
    name="screenings to review",
)
"""The frame the field review reads (further columns are the answers, context and audit fields)."""


def screenings_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Rows of the audit log as a frame; nested ``answers``/``context``/``audit`` dicts are flattened."""
    if isinstance(rows, pd.DataFrame):
        return rows.copy()
    flat = []
    for row in rows:
        item = {k: v for k, v in row.items() if not isinstance(v, Mapping)}
        for v in row.values():
            if isinstance(v, Mapping):
                item.update(v)
        flat.append(item)
    return pd.DataFrame(flat)


def check_screenings(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the review reads it: required columns present, empty decisions as None, types checked."""
    missing = sorted({*SCREENINGS_SCHEMA.columns} - set(frame.columns))
    if missing:
        raise ValueError(MISSING_LOG_COLUMN.format(columns=missing))
    frame = frame.copy()
    frame["decision"] = frame["decision"].where(frame["decision"].notna() & (frame["decision"] != ""), None)
    try:
        return SCREENINGS_SCHEMA.validate(frame, lazy=True)
    except pa_errors.SchemaErrors as exc:
        cases = exc.failure_cases
        problems = sorted({f"{c}: {k}" for c, k in zip(cases["column"], cases["check"], strict=True)})
        raise ValueError(BAD_LOG_FRAME.format(problems="; ".join(problems))) from None


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins (smoothed by 1e-4)."""
    e = np.asarray(expected, dtype=float) + 1e-4
    a = np.asarray(actual, dtype=float) + 1e-4
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def _psi_verdict(value: float) -> str:
    return "large shift" if value >= PSI_ACT else "moderate shift" if value >= PSI_WATCH else "stable"


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


# ---------------------------------------------------------------------------- the review, as data
@dataclass(frozen=True)
class Shift:
    """How far one field's answers (``field``) or one outcome's scores (``outcome``) moved since training."""

    kind: str
    """``field`` or ``outcome``: what ``name`` names."""
    name: str
    psi: float
    verdict: str

    def to_json(self) -> dict[str, Any]:
        return {self.kind: self.name, "psi": self.psi, "verdict": self.verdict}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Shift:
        kind = "field" if "field" in raw else "outcome"
        return cls(kind=kind, name=str(raw[kind]), psi=_float(raw["psi"]), verdict=str(raw["verdict"]))


@dataclass(frozen=True)
class Drift:
    """Answers and scores in the field against the training data (PSI), largest field shift first."""

    fields: tuple[Shift, ...]
    scores: tuple[Shift, ...]

    def to_json(self) -> dict[str, Any]:
        return {"fields": [s.to_json() for s in self.fields], "scores": [s.to_json() for s in self.scores]}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Drift:
        return cls(
            fields=tuple(Shift.from_json(s) for s in raw["fields"]),
            scores=tuple(Shift.from_json(s) for s in raw["scores"]),
        )


RATE_NAMES = (
    "model_would_refer",
    "referral_rate",
    "override_share",
    "confirmation_rate",
    "other_finding_rate",
    "unreferred_without_outcome",
)


@dataclass(frozen=True)
class Rates:
    """The whole log's rates: what the model would refer, what people decided and what was found."""

    model_would_refer: float
    referral_rate: float
    override_share: float
    confirmation_rate: float
    other_finding_rate: float
    unreferred_without_outcome: float

    def to_json(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in RATE_NAMES}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Rates:
        return cls(**{name: _float(raw[name]) for name in RATE_NAMES})


@dataclass(frozen=True)
class GroupReview:
    """One group's screenings: median scores, the model's and the people's referrals, outcomes, assessments."""

    group: str
    screenings: int
    score_median: Mapping[str, float]
    model_would_refer: float
    decided: int
    referral_rate: float
    override_share: float
    confirmation_rate: float
    unreferred_without_outcome: float
    assessment: Mapping[str, float]
    """Share of each screener assessment (``low`` ... ``not recorded``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "screenings": self.screenings,
            **{f"{o}_score_median": v for o, v in self.score_median.items()},
            "model_would_refer": self.model_would_refer,
            "decided": self.decided,
            "referral_rate": self.referral_rate,
            "override_share": self.override_share,
            "confirmation_rate": self.confirmation_rate,
            "unreferred_without_outcome": self.unreferred_without_outcome,
            **{f"assessment_{level.replace(' ', '_')}": v for level, v in self.assessment.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GroupReview:
        return cls(
            group=str(raw["group"]),
            screenings=int(raw["screenings"]),
            score_median={o: _float(raw[f"{o}_score_median"]) for o in LOGGED_PROBABILITIES},
            model_would_refer=_float(raw["model_would_refer"]),
            decided=int(raw["decided"]),
            referral_rate=_float(raw["referral_rate"]),
            override_share=_float(raw["override_share"]),
            confirmation_rate=_float(raw["confirmation_rate"]),
            unreferred_without_outcome=_float(raw["unreferred_without_outcome"]),
            assessment={lv: _float(raw[f"assessment_{lv.replace(' ', '_')}"]) for lv in ASSESSMENT_LEVELS},
        )


@dataclass(frozen=True)
class Overrides:
    """Overrides of the model's recommendation in one group for one reason, and their share of its decisions."""

    group: str
    reason: str
    overrides: int
    share_of_decisions: float

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "reason": self.reason,
            "overrides": self.overrides,
            "share_of_decisions": self.share_of_decisions,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Overrides:
        return cls(
            group=str(raw["group"]),
            reason=str(raw["reason"]),
            overrides=int(raw["overrides"]),
            share_of_decisions=_float(raw["share_of_decisions"]),
        )


@dataclass(frozen=True)
class SelectiveLabels:
    """The unreferred, and those of them without a specialist outcome, with the sentence that says so."""

    unreferred: int
    unreferred_without_outcome: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "unreferred": self.unreferred,
            "unreferred_without_outcome": self.unreferred_without_outcome,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SelectiveLabels:
        return cls(int(raw["unreferred"]), int(raw["unreferred_without_outcome"]), str(raw["text"]))


@dataclass(frozen=True)
class VictimEstimate:
    """Victims among the followed-up unreferred, and what that says of the unreferred as a whole."""

    victims: int
    share: float
    lower: float
    upper: float
    estimated_missed: float


@dataclass(frozen=True)
class FollowUp:
    """The random follow-up sample of unreferred people; ``estimate`` is None until some have an outcome."""

    rate: float
    unreferred: int
    in_sample: int
    followed_up: int
    estimate: VictimEstimate | None
    text: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rate": self.rate,
            "unreferred": self.unreferred,
            "in_sample": self.in_sample,
            "followed_up": self.followed_up,
        }
        if self.estimate is not None:
            e = self.estimate
            out.update(
                victims=e.victims,
                victim_share=e.share,
                victim_share_lower=e.lower,
                victim_share_upper=e.upper,
                estimated_missed=e.estimated_missed,
            )
        out["text"] = self.text
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FollowUp:
        estimate = None
        if "victims" in raw:
            estimate = VictimEstimate(
                victims=int(raw["victims"]),
                share=_float(raw["victim_share"]),
                lower=_float(raw["victim_share_lower"]),
                upper=_float(raw["victim_share_upper"]),
                estimated_missed=_float(raw["estimated_missed"]),
            )
        return cls(
            rate=float(raw["rate"]),
            unreferred=int(raw["unreferred"]),
            in_sample=int(raw["in_sample"]),
            followed_up=int(raw["followed_up"]),
            estimate=estimate,
            text=str(raw["text"]),
        )


@dataclass(frozen=True)
class ReferralGap:
    """Across the groups of one attribute (with at least :data:`MIN_GROUP` screenings): the spread of
    the model's referral rates and of the people's."""

    model_referral_gap: float
    decision_referral_gap: float

    def to_json(self) -> dict[str, float]:
        return {"model_referral_gap": self.model_referral_gap, "decision_referral_gap": self.decision_referral_gap}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ReferralGap:
        return cls(_float(raw["model_referral_gap"]), _float(raw["decision_referral_gap"]))


@dataclass(frozen=True)
class FieldReview:
    """A field review of the screenings of one period (see the module docstring)."""

    generated_at: str
    screenings: int
    period: tuple[str | None, str | None]
    overall: Rates
    override_reasons: Mapping[str, int]
    by_group: Mapping[str, tuple[GroupReview, ...]]
    overrides_by_group: Mapping[str, tuple[Overrides, ...]]
    selective_labels: SelectiveLabels
    follow_up: FollowUp
    drift: Drift | None
    referral_gaps: Mapping[str, ReferralGap]

    def to_json(self) -> dict[str, Any]:
        """The form written as ``report.json`` (NaN is left to the writer, which writes ``null``)."""
        return {
            "kind": KIND,
            "generated_at": self.generated_at,
            "screenings": self.screenings,
            "period": {"from": self.period[0], "to": self.period[1]},
            "overall": self.overall.to_json(),
            "override_reasons": dict(self.override_reasons),
            "by_group": {a: [g.to_json() for g in rows] for a, rows in self.by_group.items()},
            "overrides_by_group": {a: [r.to_json() for r in rows] for a, rows in self.overrides_by_group.items()},
            "selective_labels": self.selective_labels.to_json(),
            "follow_up": self.follow_up.to_json(),
            "drift": None if self.drift is None else self.drift.to_json(),
            "psi_thresholds": {"moderate": PSI_WATCH, "large": PSI_ACT},
            "referral_gaps": {a: g.to_json() for a, g in self.referral_gaps.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FieldReview:
        if raw.get("kind") != KIND:
            raise ValueError(f"not a field review: kind {raw.get('kind')!r}, expected {KIND!r}")
        return cls(
            generated_at=str(raw["generated_at"]),
            screenings=int(raw["screenings"]),
            period=(raw["period"]["from"], raw["period"]["to"]),
            overall=Rates.from_json(raw["overall"]),
            override_reasons={str(k): int(v) for k, v in raw["override_reasons"].items()},
            by_group={a: tuple(GroupReview.from_json(g) for g in rows) for a, rows in raw["by_group"].items()},
            overrides_by_group={
                a: tuple(Overrides.from_json(r) for r in rows) for a, rows in raw["overrides_by_group"].items()
            },
            selective_labels=SelectiveLabels.from_json(raw["selective_labels"]),
            follow_up=FollowUp.from_json(raw["follow_up"]),
            drift=None if raw.get("drift") is None else Drift.from_json(raw["drift"]),
            referral_gaps={a: ReferralGap.from_json(g) for a, g in raw["referral_gaps"].items()},
        )


# ---------------------------------------------------------------------------- computing it
@dataclass(frozen=True)
class _Screened:
    """Per screening, what the review counts (aligned with the frame's index)."""

    decided: pd.Series
    model_refer: pd.Series
    referred: pd.Series
    override: pd.Series
    has_outcome: pd.Series
    victim: pd.Series
    other_finding: pd.Series

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Screened:
        outcome = frame["outcome"] if "outcome" in frame else pd.Series(None, index=frame.index, dtype=object)
        decided = frame["decision"].notna()
        model_refer = frame["refer"].astype(bool)
        referred = frame["decision"] == REFERRED
        return cls(
            decided=decided,
            model_refer=model_refer,
            referred=referred,
            override=decided & (model_refer != referred) & (frame["decision"] != "needs_more_information"),
            has_outcome=outcome.notna() & ~outcome.isin(NO_OUTCOME),
            victim=outcome.isin(VICTIM_OUTCOMES),
            other_finding=outcome.isin(OTHER_FINDING_OUTCOMES),  # not trafficking, and not "none"
        )


def _drift(frame: pd.DataFrame, training: pd.DataFrame) -> Drift:
    q = load_questionnaire()
    fields: list[Shift] = []
    scores: list[Shift] = []
    for f in q.feature_fields:
        if f.id not in frame.columns or f.id not in training.columns:
            continue
        levels = list(f.levels)
        exp = training[f.id].astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
        act = frame[f.id].fillna("unknown").astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
        value = psi(exp, act)
        fields.append(Shift("field", f.id, value, _psi_verdict(value)))
    fields.sort(key=lambda s: -s.psi)
    for outcome, column in LOGGED_PROBABILITIES.items():
        if column in training.columns and column in frame.columns:
            edges = np.unique(np.quantile(training[column], np.linspace(0, 1, SCORE_BINS + 1)))
            edges[0], edges[-1] = -np.inf, np.inf
            exp = np.histogram(training[column], bins=edges)[0]
            act = np.histogram(frame[column].astype(float), bins=edges)[0]
            value = psi(exp, act)
            scores.append(Shift("outcome", outcome, value, _psi_verdict(value)))
    return Drift(fields=tuple(fields), scores=tuple(scores))


def in_follow_up_sample(screening_id: str, rate: float = FOLLOW_UP_RATE) -> bool:
    """Whether a screening is in the random follow-up sample: the first 8 bytes of the SHA-256 of its id
    read as a fraction below ``rate``. Screening ids are unique and carry 74 random bits, so the sample is
    random too."""
    digest = hashlib.sha256(str(screening_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _rate(hits: pd.Series, among: pd.Series) -> float:
    n = int(among.sum())
    return float((hits & among).sum() / n) if n else math.nan


def _by_group(frame: pd.DataFrame, s: _Screened, groups: pd.Series) -> tuple[GroupReview, ...]:
    rows = []
    for group in sorted(groups.unique()):
        m = groups == group
        sub = frame[m]
        assessment = sub["screener_assessment"].fillna("not recorded").value_counts(normalize=True)
        rows.append(
            GroupReview(
                group=str(group),
                screenings=int(m.sum()),
                score_median={o: float(sub[c].astype(float).median()) for o, c in LOGGED_PROBABILITIES.items()},
                model_would_refer=float(s.model_refer[m].mean()),
                decided=int(s.decided[m].sum()),
                referral_rate=_rate(s.referred, m & s.decided),
                override_share=_rate(s.override, m & s.decided),
                confirmation_rate=_rate(s.victim, m & s.referred & s.has_outcome),
                unreferred_without_outcome=_rate(~s.has_outcome, m & ~s.referred),
                assessment={level: float(assessment.get(level, 0.0)) for level in ASSESSMENT_LEVELS},
            )
        )
    return tuple(rows)


def _overrides_by_group(frame: pd.DataFrame, s: _Screened, groups: pd.Series) -> tuple[Overrides, ...]:
    """Per group and reason (e.g. answers unreliable by interview language): overrides and their share
    of the group's decisions."""
    over = s.override
    reasons = (
        frame["override_reason"].fillna("not given")
        if "override_reason" in frame
        else pd.Series("not given", index=frame.index)
    )
    decided = s.decided.groupby(groups).sum()
    table = pd.DataFrame({"group": groups[over], "reason": reasons[over]}).value_counts().reset_index(name="n")
    rows = []
    for group, reason, n in table.itertuples(index=False):
        n_decided = int(decided.get(group, 0))
        rows.append(
            Overrides(
                group=str(group),
                reason=str(reason),
                overrides=int(n),
                share_of_decisions=int(n) / n_decided if n_decided else math.nan,
            )
        )
    return tuple(rows)


def _follow_up(frame: pd.DataFrame, s: _Screened, rate: float) -> FollowUp:
    """Victims among the unreferred, estimated from the random follow-up sample when it has outcomes."""
    unreferred = ~s.referred
    if "screening_id" in frame:
        sample = frame["screening_id"].astype(str).map(lambda i: in_follow_up_sample(i, rate)).astype(bool)
    else:
        sample = pd.Series(False, index=frame.index)
    followed = unreferred & sample & s.has_outcome
    n_unreferred, in_sample, followed_up = int(unreferred.sum()), int((unreferred & sample).sum()), int(followed.sum())

    def follow_up(estimate: VictimEstimate | None, text: str) -> FollowUp:
        return FollowUp(rate, n_unreferred, in_sample, followed_up, estimate, text)

    if not followed.any():
        return follow_up(None, FOLLOW_UP_NONE.format(rate=rate))
    victims = int((followed & s.victim).sum())
    lower, upper = wilson(victims, int(followed.sum()))
    share = victims / int(followed.sum())
    estimate = VictimEstimate(
        victims=victims, share=share, lower=lower, upper=upper, estimated_missed=share * n_unreferred
    )
    text = FOLLOW_UP_ESTIMATE.format(
        victims=victims,
        followed=followed_up,
        share=share,
        lower=lower,
        upper=upper,
        missed=estimate.estimated_missed,
        unreferred=n_unreferred,
    )
    return follow_up(estimate, text)


def _referral_gap(rows: tuple[GroupReview, ...]) -> ReferralGap:
    large = [g for g in rows if g.screenings >= MIN_GROUP]
    model = [g.model_would_refer for g in large]
    people = [g.referral_rate for g in large if np.isfinite(g.referral_rate)]
    return ReferralGap(
        model_referral_gap=float(max(model) - min(model)) if model else math.nan,
        decision_referral_gap=float(max(people) - min(people)) if people else math.nan,
    )


def review_screenings(
    *,
    rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
    training_frame: pd.DataFrame | None = None,
    follow_up_rate: float = FOLLOW_UP_RATE,
) -> FieldReview:
    """Scores, referrals, confirmations, overrides and drift by group for what was screened.

    ``training_frame`` (the model's training data, with ``labour_probability`` and
    ``sexual_probability`` if score drift is wanted) enables the PSI drift section;
    ``follow_up_rate`` is the rate of the random follow-up sample (:func:`in_follow_up_sample`).
    """
    frame = check_screenings(screenings_frame(rows))
    s = _Screened.of(frame)
    attributes = [a for a in audit_attributes() if a in frame.columns]
    if all(f.id in frame.columns for f in load_questionnaire().indicators):
        attributes.append(COMPLETENESS)
    if "referral_tier" in frame.columns:
        attributes.append("referral_tier")
    for a in attributes:
        if a in frame:
            frame[a] = frame[a].fillna("unknown")
    groups = {a: group_labels(frame, a) for a in attributes}
    reasons = (
        frame.loc[s.override, "override_reason"].fillna("not given") if "override_reason" in frame else pd.Series()
    )
    unreferred = ~s.referred
    overall = Rates(
        model_would_refer=float(s.model_refer.mean()) if len(frame) else math.nan,
        referral_rate=_rate(s.referred, s.decided),
        override_share=_rate(s.override, s.decided),
        confirmation_rate=_rate(s.victim, s.referred & s.has_outcome),
        other_finding_rate=_rate(s.other_finding, s.referred & s.has_outcome),
        unreferred_without_outcome=_rate(~s.has_outcome, unreferred),
    )
    by_group = {a: _by_group(frame, s, g) for a, g in groups.items()}
    return FieldReview(
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        screenings=len(frame),
        period=(
            str(frame["created_at"].min()) if "created_at" in frame else None,
            str(frame["created_at"].max()) if "created_at" in frame else None,
        ),
        overall=overall,
        override_reasons={str(k): int(v) for k, v in reasons.value_counts().items()},
        by_group=by_group,
        overrides_by_group={a: _overrides_by_group(frame, s, g) for a, g in groups.items()},
        selective_labels=SelectiveLabels(
            unreferred=int(unreferred.sum()),
            unreferred_without_outcome=int((unreferred & ~s.has_outcome).sum()),
            text=SELECTIVE_LABELS.format(
                unreferred=int(unreferred.sum()),
                screenings=len(frame),
                without=overall.unreferred_without_outcome if unreferred.any() else 0.0,
            ),
        ),
        follow_up=_follow_up(frame, s, follow_up_rate),
        drift=_drift(frame, training_frame) if training_frame is not None else None,
        referral_gaps={a: _referral_gap(rows) for a, rows in by_group.items()},
    )


def log_rows(*, database_url: str | None, start: datetime | None, end: datetime | None) -> Iterator[dict[str, Any]]:
    """Screenings of the serving audit log as flat rows for :func:`review_screenings`."""
    engine = make_engine(database_url or default_database_url())
    try:
        for item, full in iter_screenings(engine, start=start, end=end):
            row = {k: v for k, v in item.items() if not isinstance(v, Mapping)}
            row.update(flat_values(full["current"]))
            row["override_reason"] = item.get("decision_reason")
            row["outcome"] = full["outcomes"][-1]["outcome"] if full.get("outcomes") else None
            yield row
    finally:
        engine.dispose()
