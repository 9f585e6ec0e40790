"""The model card, in Markdown and JSON, with the usual sections (Mitchell et al., 2019).

What leaves this stage is a :class:`ModelCard` (frozen dataclasses, one per section); the run
logs its :meth:`ModelCard.to_json` as ``model_card/model_card.json`` beside
:func:`card_markdown`'s ``model_card.md``, and :meth:`ModelCard.from_json` reads it back (promotion
adds an accepted risk to the card of a registered version).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.evaluate import AskedBin, Gap, Interval, OperatingPoint, Point
from pipeline.fairness.audit import ERROR_METRICS, JOIN
from pipeline.referral import ReferralSummary, Share

if TYPE_CHECKING:
    from pipeline.config import TrainConfig
    from pipeline.evaluate import CandidateEvaluation, Evaluation, OutcomeEvaluation
    from pipeline.fairness.audit import ModelAudit

MODEL_TYPE = "additive logistic model per outcome, Platt-calibrated; explanations are exact"
PURPOSE = (
    "Decision support for trained screeners in counter-trafficking programmes: the signs in "
    "a person's answers, and their reasons, help decide where to refer them: a specialist "
    "assessment under the national referral mechanism (nrm), legal, labour-rights or "
    "migrant-support services (support), safe-migration information, or no referral."
)
USERS = ("screeners", "specialists", "reviewers", "data scientists")
BASELINES = ("count_screener", "delphi_rule")
RANKING = ("auroc", "log_loss")
OUT_OF_SCOPE = [
    "immigration enforcement, border control or any decision about a person's migration status",
    "criminal profiling, investigation or prosecution of the person screened or of others",
    "any automated decision without a person: every referral is decided by a trained screener",
    "deciding that a person is, or is not, a victim of trafficking",
    "screening children without a child-specific protocol and a guardian or specialist present",
]


@dataclass(frozen=True)
class ModelDetails:
    """Which model the card is of, what it reads, and the training config it was fitted with."""

    name: str
    version: str | None
    estimator: str
    outcomes: tuple[str, ...]
    features: tuple[str, ...]
    protected_attributes_as_features: tuple[str, ...]
    why_protected_attributes_are_features: str | None
    config: Mapping[str, Any]
    """The training config as logged (its JSON form)."""
    type: str = MODEL_TYPE

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "estimator": self.estimator,
            "type": self.type,
            "outcomes": list(self.outcomes),
            "features": list(self.features),
            "protected_attributes_as_features": list(self.protected_attributes_as_features),
            "why_protected_attributes_are_features": self.why_protected_attributes_are_features,
            "config": dict(self.config),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ModelDetails:
        version = raw.get("version")
        return cls(
            name=str(raw["name"]),
            version=None if version is None else str(version),
            estimator=str(raw["estimator"]),
            type=str(raw["type"]),
            outcomes=tuple(raw["outcomes"]),
            features=tuple(raw["features"]),
            protected_attributes_as_features=tuple(raw.get("protected_attributes_as_features", ())),
            why_protected_attributes_are_features=raw.get("why_protected_attributes_are_features"),
            config=dict(raw.get("config", {})),
        )


@dataclass(frozen=True)
class IntendedUse:
    """What the model is for, and whether it was registered as a screening model."""

    screening_model: bool
    purpose: str = PURPOSE
    users: tuple[str, ...] = USERS

    def to_json(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "users": list(self.users), "screening_model": self.screening_model}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> IntendedUse:
        return cls(screening_model=bool(raw["screening_model"]), purpose=str(raw["purpose"]), users=tuple(raw["users"]))


@dataclass(frozen=True)
class DataSummary:
    """The card's data section: what was trained on, and what its source could not give."""

    source: str
    rows: int
    digest: str
    layout: str = "tarozu"
    rows_used: int | None = None
    identified_victims_only: bool = False
    has_ground_truth: bool = False
    unmapped_columns: tuple[str, ...] = ()
    fields_not_in_source: tuple[str, ...] = ()
    split: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "layout": self.layout,
            "rows": self.rows,
            "rows_used": self.rows if self.rows_used is None else self.rows_used,
            "digest": self.digest,
            "identified_victims_only": self.identified_victims_only,
            "has_ground_truth": self.has_ground_truth,
            "unmapped_columns": list(self.unmapped_columns),
            "fields_not_in_source": list(self.fields_not_in_source),
            "split": dict(self.split),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DataSummary:
        return cls(
            source=str(raw["source"]),
            rows=int(raw["rows"]),
            digest=str(raw["digest"]),
            layout=str(raw.get("layout", "tarozu")),
            rows_used=raw.get("rows_used"),
            identified_victims_only=bool(raw.get("identified_victims_only", False)),
            has_ground_truth=bool(raw.get("has_ground_truth", False)),
            unmapped_columns=tuple(raw.get("unmapped_columns", ())),
            fields_not_in_source=tuple(raw.get("fields_not_in_source", ())),
            split=dict(raw.get("split", {})),
        )


@dataclass(frozen=True)
class BaselineMetrics:
    """A transparent baseline beside the model: its AUROC and log-loss, and its sensitivity, specificity
    and PPV where it refers no more non-victims than the model (``at_model_specificity``); when that point
    is unknown, its metrics at its own threshold (``observed``)."""

    auroc: Interval
    log_loss: Interval
    at_model_specificity: OperatingPoint | None = None
    observed: Mapping[str, Interval] = field(default_factory=dict)

    @classmethod
    def of(cls, candidate: CandidateEvaluation) -> BaselineMetrics:
        point = candidate.at_model_specificity
        return cls(
            auroc=candidate.observed["auroc"],
            log_loss=candidate.observed["log_loss"],
            at_model_specificity=point,
            observed={} if point is not None else {k: v for k, v in candidate.observed.items() if k not in RANKING},
        )

    def metric(self, name: str) -> Interval:
        """A metric by name: AUROC and log-loss, else at the model's specificity (or its own threshold)."""
        if name == "auroc":
            return self.auroc
        if name == "log_loss":
            return self.log_loss
        if self.at_model_specificity is not None:
            return self.at_model_specificity.metrics[name]
        return self.observed[name]

    def to_json(self) -> dict[str, Any]:
        rest = (
            self.at_model_specificity.to_json()
            if self.at_model_specificity is not None
            else {k: v.to_json() for k, v in self.observed.items()}
        )
        return {"auroc": self.auroc.to_json(), "log_loss": self.log_loss.to_json(), **rest}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BaselineMetrics:
        rest = {k: v for k, v in raw.items() if k not in RANKING}
        at_point = "threshold" in rest
        return cls(
            auroc=Interval.from_json(raw["auroc"]),
            log_loss=Interval.from_json(raw["log_loss"]),
            at_model_specificity=OperatingPoint.from_json(rest) if at_point else None,
            observed={} if at_point else {k: Interval.from_json(v) for k, v in rest.items()},
        )


def _optional_gap(raw: Any) -> Gap | None:
    return None if raw is None else Gap.from_json(raw)


@dataclass(frozen=True)
class OutcomeMetrics:
    """The production model's metrics on one outcome of the test split, with the baselines beside it."""

    n: int
    prevalence_observed: float
    threshold: float
    high_threshold: float
    observed: Mapping[str, Interval]
    by_questions_asked: Mapping[str, AskedBin]
    baselines: Mapping[str, BaselineMetrics]
    truth: Point | None = None
    gap_to_bayes: Gap | None = None
    gap_to_bayes_given_inputs: Gap | None = None

    @classmethod
    def of(cls, evaluation: OutcomeEvaluation, production: str) -> OutcomeMetrics:
        model = evaluation.models[production]
        return cls(
            n=evaluation.n,
            prevalence_observed=evaluation.prevalence_observed,
            threshold=model.threshold,
            high_threshold=model.high_threshold,
            observed=model.observed,
            truth=model.truth,
            gap_to_bayes=model.gap_to_bayes,
            gap_to_bayes_given_inputs=model.gap_to_bayes_given_inputs,
            by_questions_asked=model.by_questions_asked,
            baselines={b: BaselineMetrics.of(evaluation.models[b]) for b in BASELINES if b in evaluation.models},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "prevalence_observed": self.prevalence_observed,
            "threshold": self.threshold,
            "high_threshold": self.high_threshold,
            "observed": {k: v.to_json() for k, v in self.observed.items()},
            "truth": None if self.truth is None else dict(self.truth),
            "gap_to_bayes": None if self.gap_to_bayes is None else self.gap_to_bayes.to_json(),
            "gap_to_bayes_given_inputs": (
                None if self.gap_to_bayes_given_inputs is None else self.gap_to_bayes_given_inputs.to_json()
            ),
            "by_questions_asked": {k: v.to_json() for k, v in self.by_questions_asked.items()},
            "baselines": {k: v.to_json() for k, v in self.baselines.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OutcomeMetrics:
        truth = raw.get("truth")
        return cls(
            n=int(raw["n"]),
            prevalence_observed=float(raw["prevalence_observed"]),
            threshold=float(raw["threshold"]),
            high_threshold=float(raw["high_threshold"]),
            observed={k: Interval.from_json(v) for k, v in raw["observed"].items()},
            truth=None if truth is None else dict(truth),
            gap_to_bayes=_optional_gap(raw.get("gap_to_bayes")),
            gap_to_bayes_given_inputs=_optional_gap(raw.get("gap_to_bayes_given_inputs")),
            by_questions_asked={k: AskedBin.from_json(v) for k, v in raw.get("by_questions_asked", {}).items()},
            baselines={k: BaselineMetrics.from_json(v) for k, v in raw.get("baselines", {}).items()},
        )


@dataclass(frozen=True)
class GroupRate:
    """One group's error rate with its 95% interval, and the audit's verdict against the reference."""

    value: float
    lower: float
    upper: float
    verdict: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper, "verdict": self.verdict}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GroupRate:
        return cls(
            value=float(raw["value"]), lower=float(raw["lower"]), upper=float(raw["upper"]), verdict=str(raw["verdict"])
        )


@dataclass(frozen=True)
class GroupRow:
    """One group of an attribute on one outcome: its size and its miss and false-alarm rates."""

    group: str
    people: int
    victims: int
    rates: Mapping[str, GroupRate]
    """By error metric (:data:`pipeline.fairness.audit.ERROR_METRICS`: ``fnr``, ``fpr``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "people": self.people,
            "victims": self.victims,
            **{m: r.to_json() for m, r in self.rates.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GroupRow:
        return cls(
            group=str(raw["group"]),
            people=int(raw["people"]),
            victims=int(raw["victims"]),
            rates={m: GroupRate.from_json(raw[m]) for m in ERROR_METRICS if m in raw},
        )


@dataclass(frozen=True)
class MetricsByGroup:
    """The card's "metrics by group": the audit's answer, its settings, and each single attribute's groups."""

    answer: str
    data: str
    tolerance: tuple[float, float]
    min_cases: int
    attributes: Mapping[str, Mapping[str, tuple[GroupRow, ...]]]
    """By attribute, then outcome: the groups, the reference first."""

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "data": self.data,
            "tolerance": list(self.tolerance),
            "min_cases": self.min_cases,
            "attributes": {
                a: {o: [r.to_json() for r in rows] for o, rows in outcomes.items()}
                for a, outcomes in self.attributes.items()
            },
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> MetricsByGroup:
        lower, upper = raw["tolerance"]
        return cls(
            answer=str(raw["answer"]),
            data=str(raw["data"]),
            tolerance=(float(lower), float(upper)),
            min_cases=int(raw["min_cases"]),
            attributes={
                a: {o: tuple(GroupRow.from_json(r) for r in rows) for o, rows in outcomes.items()}
                for a, outcomes in raw["attributes"].items()
            },
        )


@dataclass(frozen=True)
class AcceptedRisk:
    """A promotion despite refusal reasons (``tarozu promote --accept-risk``): when, why, and what it overrode."""

    at: str
    reason: str
    overridden: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "reason": self.reason, "overridden": list(self.overridden)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AcceptedRisk:
        return cls(at=str(raw["at"]), reason=str(raw["reason"]), overridden=tuple(raw["overridden"]))


@dataclass(frozen=True)
class ModelCard:
    """The model card (see the module docstring); ``metrics_by_group`` and ``referral`` are None when not
    computed (written as ``{}``)."""

    model_details: ModelDetails
    intended_use: IntendedUse
    data: DataSummary
    metrics: Mapping[str, OutcomeMetrics]
    ethical_considerations: tuple[str, ...]
    caveats_and_recommendations: tuple[str, ...]
    metrics_by_group: MetricsByGroup | None = None
    referral: ReferralSummary | None = None
    out_of_scope_uses: tuple[str, ...] = tuple(OUT_OF_SCOPE)
    accepted_risks: tuple[AcceptedRisk, ...] = ()

    def with_version(self, version: str | None) -> ModelCard:
        """The card of the registered model version ``version``."""
        return dataclasses.replace(self, model_details=dataclasses.replace(self.model_details, version=version))

    def with_accepted_risk(self, *, at: str, reason: str, overridden: Sequence[str]) -> ModelCard:
        """The card recording a promotion despite refusal reasons, and the reason given.

        The risk is listed under ``accepted_risks`` and stated first among the caveats.
        """
        caveat = f"Promoted on {at} despite: {'; '.join(overridden)}. Accepted risk: {reason}"
        return dataclasses.replace(
            self,
            accepted_risks=(*self.accepted_risks, AcceptedRisk(at=at, reason=reason, overridden=tuple(overridden))),
            caveats_and_recommendations=(caveat, *self.caveats_and_recommendations),
        )

    def to_json(self) -> dict[str, Any]:
        """The form logged as ``model_card/model_card.json`` (``accepted_risks`` only once there is one)."""
        out: dict[str, Any] = {
            "model_details": self.model_details.to_json(),
            "intended_use": self.intended_use.to_json(),
            "out_of_scope_uses": list(self.out_of_scope_uses),
            "data": self.data.to_json(),
            "metrics": {o: m.to_json() for o, m in self.metrics.items()},
            "metrics_by_group": {} if self.metrics_by_group is None else self.metrics_by_group.to_json(),
            "referral": {} if self.referral is None else self.referral.to_json(),
            "ethical_considerations": list(self.ethical_considerations),
            "caveats_and_recommendations": list(self.caveats_and_recommendations),
        }
        if self.accepted_risks:
            out["accepted_risks"] = [r.to_json() for r in self.accepted_risks]
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ModelCard:
        by_group, referral = raw.get("metrics_by_group"), raw.get("referral")
        return cls(
            model_details=ModelDetails.from_json(raw["model_details"]),
            intended_use=IntendedUse.from_json(raw["intended_use"]),
            out_of_scope_uses=tuple(raw["out_of_scope_uses"]),
            data=DataSummary.from_json(raw["data"]),
            metrics={o: OutcomeMetrics.from_json(m) for o, m in raw["metrics"].items()},
            metrics_by_group=MetricsByGroup.from_json(by_group) if by_group else None,
            referral=ReferralSummary.from_json(referral) if referral else None,
            ethical_considerations=tuple(raw["ethical_considerations"]),
            caveats_and_recommendations=tuple(raw["caveats_and_recommendations"]),
            accepted_risks=tuple(AcceptedRisk.from_json(r) for r in raw.get("accepted_risks", ())),
        )


def build_card(
    *,
    name: str,
    version: str | None,
    config: TrainConfig,
    data: DataSummary,
    evaluation: Evaluation,
    features: Sequence[str],
    screening_model: bool,
    group_metrics: MetricsByGroup | None = None,
    referral: ReferralSummary | None = None,
    notes: Sequence[str] = (),
) -> ModelCard:
    """The card of a fit: the production model (``config.models.production``) on the test split.

    :func:`card_markdown` renders it; :meth:`ModelCard.to_json` is what the run logs.
    """
    production = config.models.production
    return ModelCard(
        model_details=ModelDetails(
            name=name,
            version=version,
            estimator=production,
            outcomes=tuple(evaluation.outcomes),
            features=tuple(features),
            protected_attributes_as_features=tuple(config.features.protected_as_features),
            why_protected_attributes_are_features=config.features.reason,
            config=config.model_dump(mode="json"),
        ),
        intended_use=IntendedUse(screening_model=screening_model),
        data=data,
        metrics={o: OutcomeMetrics.of(ev, production) for o, ev in evaluation.outcomes.items()},
        metrics_by_group=group_metrics,
        referral=referral,
        ethical_considerations=ethical_considerations(config.models.sparse_logistic.dont_know_cap),
        caveats_and_recommendations=(*notes, *CAVEATS),
    )


CAVEATS = (
    "Trained on synthetic data unless the data section says otherwise: check the fairness audit "
    "and local validation before any field use.",
    "Only referred people get outcomes (selective labels): models retrained from the field learn "
    "from referred cases only.",
    "Translations of the questionnaire need review by native-speaking practitioners.",
)


def ethical_considerations(dont_know_cap: float) -> tuple[str, ...]:
    return (
        "The output supports a person's judgement; it is never a verdict that someone is a victim.",
        "Labels reflect who was identified, not who was exploited: identification bias is audited "
        "(`tarozu audit`), and groups whose victims are under-identified will look lower risk.",
        "Protected attributes (gender, age, citizenship, region) and how the interview was held "
        "(language, interpreter, who else was present, site) are audit inputs, not model features, "
        "unless the configuration above says otherwise and gives the reason.",
        "A question not asked, a declined answer and an unrecorded context field contribute exactly 0; "
        "all don't-know answers of a case together move its log-odds by at most "
        f"{dont_know_cap}. "
        "The recommendation is a referral tier only when the unasked questions would change the tier with "
        "a chance below the configured level (ask_more otherwise); never a referral (support or nrm) on "
        "non-answers alone; a yes to the danger question refers to nrm at once. Screeners see the tier, "
        "the band words, the reasons and the next questions, not the probability of a type of "
        "exploitation (unless the service is set to show it).",
        "No direct identifiers are used or stored; case references are kept only as keyed hashes.",
        "A wrongful flag costs a specialist interview and can stigmatise; a missed victim stays "
        "unprotected. The tiers keep the specialist assessment within the referral mechanism's "
        "capacity and send the wider net of sensitivity to support services instead.",
    )


def group_metrics(audit: ModelAudit) -> MetricsByGroup:
    """The card's "metrics by group": miss and false-alarm rates with intervals and verdicts.

    Every single attribute of the audit (not the intersections: those are in the report), on
    observed labels; the verdicts are the audit's, adjusted over the whole report.
    """

    section = audit.observed
    verdicts = {(c.attribute, c.outcome, c.metric, c.group): c.verdict for c in section.comparisons}
    answer = audit.answer()
    attributes: dict[str, dict[str, tuple[GroupRow, ...]]] = {}
    for table in section.tables:
        if JOIN in table.attribute:
            continue
        attributes.setdefault(table.attribute, {})[table.outcome] = tuple(
            GroupRow(
                group=g.group,
                people=g.people,
                victims=g.victims,
                rates={
                    m: GroupRate(
                        value=g.errors[m].value,
                        lower=g.errors[m].lower,
                        upper=g.errors[m].upper,
                        verdict=verdicts.get((table.attribute, table.outcome, m, g.group), "reference"),
                    )
                    for m in ERROR_METRICS
                },
            )
            for g in table.groups
        )
    return MetricsByGroup(
        answer=f"{answer.headline} {answer.could_see}",
        data=audit.data,
        tolerance=audit.settings.tolerance,
        min_cases=audit.settings.min_cases,
        attributes=attributes,
    )


def write_card(card: ModelCard, directory: Path) -> None:
    """``model_card.json`` and ``model_card.md`` in ``directory`` (what the run logs under ``model_card/``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model_card.json").write_text(json.dumps(card.to_json(), indent=1, default=float), encoding="utf-8")
    (directory / "model_card.md").write_text(card_markdown(card), encoding="utf-8")


# ---------------------------------------------------------------------------- rendering
def _fmt(m: Interval | GroupRate) -> str:
    return f"{m.value:.3f} [{m.lower:.3f}, {m.upper:.3f}]"


def card_summary(card: ModelCard) -> str:
    """A few lines on what the model is, for the registry's model-version description."""
    d, data = card.model_details, card.data
    lines = [
        f"{d.name}: {d.type} ({d.estimator}), outcomes {', '.join(d.outcomes)}.",
        f"Data: {data.source} ({data.to_json()['rows_used']} rows, digest {data.digest[:12]}).",
    ]
    for outcome, m in card.metrics.items():
        obs = m.observed
        lines.append(
            f"{outcome}: AUROC {_fmt(obs['auroc'])}, sensitivity {_fmt(obs['sensitivity'])}, "
            f"specificity {_fmt(obs['specificity'])} at threshold {m.threshold:.4f}."
        )
    tiers = {} if card.referral is None else card.referral.test.tiers
    if tiers:
        lines.append(
            "Referral tiers on the test split (share of people, PPV): "
            + ", ".join(f"{t} {_pct(e.rate)} ({_pct(e.ppv)})" for t, e in tiers.items())
            + "."
        )
    if card.metrics_by_group is not None:
        lines.append(f"By group: {card.metrics_by_group.answer}")
    if data.source == "synthetic":
        lines.append("Trained on synthetic data: not validated for field use.")
    return "\n".join(lines)


def _pct(m: Share, digits: int = 1) -> str:
    return "–" if m.value is None else f"{m.value:.{digits}%}"


def _pct_ci(m: Share) -> str:
    if m.value is None:
        return "–"
    if m.lower is None or m.upper is None:
        return _pct(m)
    return f"{m.value:.1%} [{m.lower:.1%}, {m.upper:.1%}]"


TIER_NAMES = {
    "nrm": "nrm: specialist assessment (national referral mechanism)",
    "support": "support: legal, labour-rights or migrant-support services",
    "information": "information: safe-migration information",
    "none": "none: no referral",
}


def _referral_lines(referral: ReferralSummary) -> list[str]:
    settings, test = referral.settings or {}, referral.test
    calibration = referral.calibration
    lines = [
        "A person's tier is the highest over the outcomes. The thresholds were chosen on the calibration "
        f"split: nrm holds at most {settings.get('nrm_max_share', float('nan')):.0%} of the people screened, "
        f"nrm and support together at least {settings.get('sensitivity', float('nan')):.0%} of the people "
        f"exploited in either way, and nrm, support and information at least "
        f"{settings.get('information_sensitivity', float('nan')):.0%}. Within a tier each outcome's threshold "
        "is where that outcome's sensitivity reaches the same level, so a tier catches labour and sexual "
        "exploitation alike.",
    ]
    if calibration is not None:
        reached = calibration.sensitivity_at_or_above
        lines += [
            "",
            f"On the calibration split ({calibration.people} people, {calibration.victims} exploited): "
            f"nrm holds {calibration.nrm_share:.1%}; victims in nrm or above {reached['nrm']:.1%}, in "
            f"support or above {reached['support']:.1%}, in information or above {reached['information']:.1%}.",
        ]
    lines += [
        "",
        "| outcome | information from | support from | nrm from |",
        "|---|---:|---:|---:|",
        *[
            f"| {o} | {t['information']:.4f} | {t['support']:.4f} | "
            + ("nobody" if t["nrm"] > 1 else f"{t['nrm']:.4f}")
            + " |"
            for o, t in referral.thresholds.items()
        ],
        "",
        f"On the test split ({test.people} people, {test.victims} exploited in either way), 95% bootstrap "
        "intervals. Rate: share of people placed in the tier (its expected referrals); PPV: share of them "
        "exploited; sensitivity: share of exploited people placed in the tier, and in it or a higher one.",
        "",
        "| tier | people | rate [95% CI] | PPV [95% CI] | sensitivity [95% CI] | in it or above [95% CI] |",
        "|---|---:|---|---|---|---|",
        *[
            f"| {TIER_NAMES.get(t, t)} | {e.people} | {_pct_ci(e.rate)} | {_pct_ci(e.ppv)} | "
            f"{_pct_ci(e.sensitivity)} | {_pct_ci(e.sensitivity_at_or_above)} |"
            for t, e in test.tiers.items()
        ],
    ]
    return lines


def _group_lines(by_group: MetricsByGroup) -> list[str]:
    lower, upper = by_group.tolerance
    lines = [
        by_group.answer,
        "",
        f"Miss rate (victims the model would not refer) and false-alarm rate (non-victims it would refer), "
        f"95% bootstrap intervals, on {by_group.data or 'the test split'}; each group is compared with the "
        f"first (reference) group, tolerance {lower}-{upper} times its "
        f"rate, at least {by_group.min_cases} victims or non-victims for a verdict. Intersections are in "
        "the fairness report (`fairness/report.html` in the run).",
    ]
    for attribute, outcomes in by_group.attributes.items():
        for outcome, rows in outcomes.items():
            lines += [
                "",
                f"**{attribute}, {outcome}**",
                "",
                "| group | people | victims | miss rate [95% CI] | verdict | false-alarm rate [95% CI] | verdict |",
                "|---|---:|---:|---|---|---|---|",
            ]
            for r in rows:
                cells = " | ".join(f"{_fmt_nan(r.rates[m])} | {r.rates[m].verdict}" for m in ("fnr", "fpr"))
                lines.append(f"| {r.group} | {r.people} | {r.victims} | {cells} |")
    return lines


def _fmt_nan(m: GroupRate) -> str:
    if any(v != v for v in (m.value, m.lower, m.upper)):
        return "–" if m.value != m.value else f"{m.value:.3f}"
    return _fmt(m)


def card_markdown(card: ModelCard) -> str:
    d = card.model_details
    lines = [
        f"# Model card: {d.name} {('version ' + str(d.version)) if d.version else '(not registered)'}",
        "",
        "## Model details",
        f"- Estimator: `{d.estimator}` ({d.type})",
        f"- Outcomes: {', '.join(d.outcomes)}",
        f"- Features: {len(d.features)} questionnaire fields",
        f"- Protected attributes as features: {list(d.protected_attributes_as_features) or 'none'}"
        + (f" (reason: {d.why_protected_attributes_are_features})" if d.protected_attributes_as_features else ""),
        "",
        "## Intended use",
        card.intended_use.purpose,
        "",
        f"Registered as a screening model: {'yes' if card.intended_use.screening_model else 'no'}.",
        "",
        "## Out-of-scope uses",
        *[f"- {u}" for u in card.out_of_scope_uses],
        "",
        "## Data",
        *[f"- {k}: {v}" for k, v in card.data.to_json().items()],
        "",
        "## Metrics (test split, 95% bootstrap intervals)",
    ]
    for outcome, m in card.metrics.items():
        lines += [
            "",
            f"### {outcome} (n={m.n}, observed prevalence {m.prevalence_observed:.3%}, threshold {m.threshold:.4f})",
            "",
            "| metric | value [95% CI] |",
            "|---|---|",
            *[f"| {k} | {_fmt(v)} |" for k, v in m.observed.items()],
        ]
        if m.gap_to_bayes is not None:
            g = m.gap_to_bayes
            lines.append(
                f"\nGap to the Bayes-optimal model: log-loss {g.log_loss_ratio:+.2%}, AUROC {g.auroc_difference:+.4f}."
            )
        if m.gap_to_bayes_given_inputs is not None:
            g = m.gap_to_bayes_given_inputs
            lines.append(
                f"Gap to the Bayes-optimal model given only this model's inputs (no protected "
                f"attributes): log-loss {g.log_loss_ratio:+.2%}, AUROC {g.auroc_difference:+.4f}."
            )
        if m.by_questions_asked:
            lines += [
                "",
                "Calibration by number of questions asked:",
                "",
                "| questions asked | n | observed rate | mean probability | ECE | log-loss |",
                "|---|---:|---:|---:|---:|---:|",
                *[
                    f"| {b} | {v.n} | {v.observed_rate:.4f} | {v.mean_probability:.4f} | "
                    f"{v.ece:.4f} | {v.log_loss:.4f} |"
                    for b, v in m.by_questions_asked.items()
                ],
            ]
        if m.baselines:
            lines += [
                "",
                "Baselines, with sensitivity and specificity at the threshold that refers no more "
                "non-victims than the model does (its specificity or higher, on the test split):",
                "",
                "| baseline | AUROC | log-loss | sensitivity | specificity |",
                "|---|---|---|---|---|",
            ]
            for b, bm in m.baselines.items():
                lines.append(
                    f"| {b} | "
                    + " | ".join(_fmt(bm.metric(k)) for k in ("auroc", "log_loss", "sensitivity", "specificity"))
                    + " |"
                )
    if card.referral is not None:
        lines += ["", "## Referral tiers (set against capacity)", "", *_referral_lines(card.referral)]
    lines += ["", "## Metrics by group"]
    if card.metrics_by_group is not None:
        lines += _group_lines(card.metrics_by_group)
    else:
        lines.append("Not computed for this run.")
    lines += ["", "## Ethical considerations", *[f"- {e}" for e in card.ethical_considerations]]
    lines += ["", "## Caveats and recommendations", *[f"- {c}" for c in card.caveats_and_recommendations]]
    return "\n".join(lines) + "\n"
