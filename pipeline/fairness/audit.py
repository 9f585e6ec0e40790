"""Fairness audit of a screening model: who is screened, whom it misses, who is identified.

Per audited attribute (the questionnaire's audit fields, migrant status, destination, the
completeness of the interview, and the intersections of :data:`INTERSECTIONS`), per group
and per outcome, the audit keeps three things apart:

1. **the population** (:attr:`GroupMetrics.population`): prevalence and the share the model
   would refer. Groups differ here for reasons that are not the model's errors, so these
   carry no verdict;
2. **the model's errors** (:attr:`LabelAudit.comparisons`): the miss rate (false negative
   rate among victims, the primary criterion) and the false-alarm rate (false positive rate
   among non-victims, secondary), each compared with the reference group's by
   :mod:`pipeline.fairness.stats`. A comparison needs ``min_cases`` victims (miss rate) or
   non-victims (false alarms) in both groups, else it is ``too few cases``; every comparison
   reports the smallest ratio it could have detected, so that "no disparity found" is
   never read as "fair" when the data could not have seen one. The p-values of all
   error-rate comparisons of a report (both outcomes, observed labels and ground truth) are
   adjusted together (Benjamini-Hochberg);
3. **identification bias** (:class:`IdentificationAudit`, synthetic data with ground truth
   only): the share of each group's true victims that carry a label, compared the same way.

Per-group rates in the tables carry percentile bootstrap intervals (groups resampled
independently); AUROC, PPV and calibration error are shown for context, without verdicts.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from models.questionnaire import DECLINED, NOT_ASKED, STATUS_FIELD, load_questionnaire
from models.screening import ScreeningModel
from pipeline.config import TrainConfig
from pipeline.data.columns import LABELS, TRUTH
from pipeline.fairness.stats import RatioTest, adjust, detectable_ratios, ratio_test
from pipeline.metrics import Metric, resample_counts, score_metrics, threshold_metrics, weighted_metrics

CONTEXT_ATTRIBUTES: tuple[str, ...] = (STATUS_FIELD, "destination")
COMPLETENESS = "interview_completeness"
COMPLETENESS_BINS: tuple[tuple[float, str], ...] = ((0.5, "under 50%"), (0.8, "50-79%"), (1.0, "80-99%"))
COMPLETE = "all"
INTERSECTIONS: tuple[tuple[str, str], ...] = (("gender", "age_band"), ("gender", "sector"), ("gender", "destination"))
JOIN = " × "
PRIMARY, SECONDARY = "fnr", "fpr"
ERROR_METRICS: tuple[str, ...] = (PRIMARY, SECONDARY)
POPULATION_METRICS: tuple[str, ...] = ("prevalence", "selection_rate")
OTHER_METRICS: tuple[str, ...] = ("ppv", "auroc", "ece")
IDENTIFICATION = "identification"
DISPARITY, WITHIN, CANNOT_TELL, TOO_FEW = "disparity", "within tolerance", "cannot tell", "too few cases"
OBSERVED, TRUE_STATE = "observed", "truth"
SECTION_NAMES = {OBSERVED: "observed labels", TRUE_STATE: "ground truth (synthetic data)"}
METRIC_NAMES = {
    "prevalence": "share who are victims",
    "selection_rate": "share the model would refer",
    "fnr": "miss rate (victims not referred)",
    "fpr": "false-alarm rate (non-victims referred)",
    "ppv": "referred who are victims (PPV)",
    "auroc": "ranking quality (AUROC)",
    "ece": "calibration error (ECE)",
    IDENTIFICATION: "identification rate (victims with a label)",
}
CRITERIA = (
    "Primary criterion: the miss rate (victims the model would not refer, the false negative rate) "
    "is the same in every group. Secondary: the false-alarm rate (non-victims it would refer, the "
    "false positive rate). Prevalence and the share referred describe the population and carry no verdict."
)
CORRECTION = (
    "Each group is compared with its reference group on the ratio of their rates (log scale, half a "
    "count added to each cell). Disparity: the ratio is outside the tolerance band; within tolerance: "
    "it is inside (two one-sided tests). P-values of all error-rate comparisons of the report are "
    "adjusted together (Benjamini-Hochberg). The detectable ratio is the smallest the test would find "
    "with the configured power for the group's counts."
)

MISSING_COLUMN = "the data has no column {column!r}; an audit needs the questionnaire fields and labels"
BAD_REFERENCE = "reference group {group!r} of {attribute!r} is not in the data; groups are {groups}"


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval (``nan`` where undefined)."""

    value: float
    lower: float
    upper: float

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Estimate:
        return cls(_float(raw["value"]), _float(raw["lower"]), _float(raw["upper"]))


def _float(value: Any, missing: float = math.nan) -> float:
    """A number of a written report, where ``null`` stands for NaN (or ``missing``)."""
    return missing if value is None else float(value)


def _estimates(raw: Mapping[str, Any]) -> dict[str, Estimate]:
    return {name: Estimate.from_json(entry) for name, entry in raw.items()}


@dataclass(frozen=True)
class GroupMetrics:
    """One group's rates for one outcome: what describes the population, the errors, the rest."""

    group: str
    people: int
    victims: int
    non_victims: int
    population: dict[str, Estimate]
    errors: dict[str, Estimate]
    other: dict[str, Estimate]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GroupMetrics:
        return cls(
            group=str(raw["group"]),
            people=int(raw["people"]),
            victims=int(raw["victims"]),
            non_victims=int(raw["non_victims"]),
            population=_estimates(raw["population"]),
            errors=_estimates(raw["errors"]),
            other=_estimates(raw["other"]),
        )


@dataclass(frozen=True)
class GroupTable:
    """The groups of one attribute for one outcome."""

    attribute: str
    outcome: str
    reference: str
    groups: tuple[GroupMetrics, ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GroupTable:
        return cls(
            attribute=str(raw["attribute"]),
            outcome=str(raw["outcome"]),
            reference=str(raw["reference"]),
            groups=tuple(GroupMetrics.from_json(g) for g in raw["groups"]),
        )


@dataclass(frozen=True)
class Compared:
    """What a comparison compares: a group's events and cases of one metric against its reference's."""

    section: str
    attribute: str
    outcome: str
    metric: str
    group: str
    reference: str
    events: int
    cases: int
    ref_events: int
    ref_cases: int

    @property
    def rate(self) -> float:
        return self.events / self.cases if self.cases else math.nan

    @property
    def ref_rate(self) -> float:
        return self.ref_events / self.ref_cases if self.ref_cases else math.nan

    def compared(self) -> dict[str, Any]:
        """These fields alone, to build the next stage's record from."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Compared)}


@dataclass(frozen=True)
class Comparison(Compared):
    """A group's rate against its reference's; p-values adjusted over the report's family."""

    ratio: float
    ratio_lower: float
    ratio_upper: float
    p_disparity: float
    p_within: float
    detectable_above: float
    detectable_below: float
    verdict: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Comparison:
        """A comparison as a report wrote it (``null``: NaN, or an infinite detectable ratio)."""
        return cls(
            section=str(raw["section"]),
            attribute=str(raw["attribute"]),
            outcome=str(raw["outcome"]),
            metric=str(raw["metric"]),
            group=str(raw["group"]),
            reference=str(raw["reference"]),
            events=int(raw["events"]),
            cases=int(raw["cases"]),
            ref_events=int(raw["ref_events"]),
            ref_cases=int(raw["ref_cases"]),
            ratio=_float(raw["ratio"]),
            ratio_lower=_float(raw["ratio_lower"]),
            ratio_upper=_float(raw["ratio_upper"]),
            p_disparity=_float(raw["p_disparity"]),
            p_within=_float(raw["p_within"]),
            detectable_below=_float(raw["detectable_below"]),
            detectable_above=_float(raw["detectable_above"], missing=math.inf),
            verdict=str(raw["verdict"]),
        )


@dataclass(frozen=True)
class LabelAudit:
    """The model against one kind of label: observed labels, or the true state."""

    section: str
    tables: tuple[GroupTable, ...]
    comparisons: tuple[Comparison, ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LabelAudit:
        return cls(
            section=str(raw["section"]),
            tables=tuple(GroupTable.from_json(t) for t in raw["tables"]),
            comparisons=tuple(Comparison.from_json(c) for c in raw["comparisons"]),
        )

    def table(self, attribute: str, outcome: str) -> GroupTable:
        return next(t for t in self.tables if t.attribute == attribute and t.outcome == outcome)


@dataclass(frozen=True)
class IdentificationGroup:
    group: str
    people: int
    true_victims: int
    labelled: int
    observed_prevalence: float
    true_prevalence: float
    rate: Estimate

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> IdentificationGroup:
        return cls(
            group=str(raw["group"]),
            people=int(raw["people"]),
            true_victims=int(raw["true_victims"]),
            labelled=int(raw["labelled"]),
            observed_prevalence=_float(raw["observed_prevalence"]),
            true_prevalence=_float(raw["true_prevalence"]),
            rate=Estimate.from_json(raw["rate"]),
        )


@dataclass(frozen=True)
class IdentificationTable:
    attribute: str
    outcome: str
    reference: str
    groups: tuple[IdentificationGroup, ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> IdentificationTable:
        return cls(
            attribute=str(raw["attribute"]),
            outcome=str(raw["outcome"]),
            reference=str(raw["reference"]),
            groups=tuple(IdentificationGroup.from_json(g) for g in raw["groups"]),
        )


@dataclass(frozen=True)
class Flag:
    """A group whose victims are identified less often than another group's."""

    attribute: str
    outcome: str
    group: str
    relative_to: str
    ratio: float


@dataclass(frozen=True)
class IdentificationAudit:
    tables: tuple[IdentificationTable, ...]
    comparisons: tuple[Comparison, ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> IdentificationAudit:
        """Its tables and comparisons (the written ``flags`` are derived from them)."""
        return cls(
            tables=tuple(IdentificationTable.from_json(t) for t in raw["tables"]),
            comparisons=tuple(Comparison.from_json(c) for c in raw["comparisons"]),
        )

    @property
    def flags(self) -> tuple[Flag, ...]:
        """Under-identified groups: the group when its ratio is low, the reference when it is high."""
        out = []
        for c in self.comparisons:
            if c.verdict != DISPARITY:
                continue
            low = c.ratio < 1
            out.append(
                Flag(
                    attribute=c.attribute,
                    outcome=c.outcome,
                    group=c.group if low else c.reference,
                    relative_to=c.reference if low else c.group,
                    ratio=c.ratio if low else 1 / c.ratio,
                )
            )
        return tuple(out)


@dataclass(frozen=True)
class AuditSettings:
    """What an audit compares groups with (the training config's ``fairness`` section) and how its tables'
    intervals are drawn (``n_boot`` resamples, 0 for none: the verdicts do not use them; ``seed``).
    The report records them."""

    tolerance: tuple[float, float]
    min_cases: int
    n_boot: int
    alpha: float
    power: float
    seed: int

    @classmethod
    def from_config(cls, config: TrainConfig, *, n_boot: int | None = None) -> AuditSettings:
        """The settings of ``config``: its ``fairness`` section, and its evaluation's bootstrap (unless
        ``n_boot`` is given) and seed."""
        fairness = config.fairness
        return cls(
            tolerance=fairness.tolerance,
            min_cases=fairness.min_cases,
            n_boot=config.evaluation.bootstrap if n_boot is None else n_boot,
            alpha=fairness.alpha,
            power=fairness.power,
            seed=config.evaluation.seed,
        )

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AuditSettings:
        lower, upper = raw["tolerance"]
        return cls(
            tolerance=(float(lower), float(upper)),
            min_cases=int(raw["min_cases"]),
            n_boot=int(raw["n_boot"]),
            alpha=float(raw["alpha"]),
            power=float(raw["power"]),
            seed=int(raw["seed"]),
        )


@dataclass(frozen=True)
class Answer:
    """The report's first paragraph, as data: does the model miss victims in some group more?"""

    misses: tuple[Comparison, ...]
    false_alarms: tuple[Comparison, ...]
    under_identified: tuple[Flag, ...]
    checked: int
    within: int
    cannot_tell: int
    too_few: int
    detectable: tuple[float, float] | None

    @property
    def headline(self) -> str:
        if self.misses:
            return f"Yes: the model's miss rate differs between groups in {len(self.misses)} comparison(s)."
        if not self.checked:
            return "Cannot tell: no group had enough victims to compare miss rates."
        return f"No miss-rate disparity was found in {self.checked} comparison(s) with enough victims."

    @property
    def could_see(self) -> str:
        parts = [f"{self.within} shown within tolerance"]
        if self.cannot_tell:
            if self.detectable is not None:
                lo, hi = self.detectable
                parts.append(
                    f"{self.cannot_tell} undecided: these could only have detected miss rates "
                    f"{_times(lo)} to {_times(hi)} the reference's"
                )
            else:
                parts.append(f"{self.cannot_tell} undecided")
        if self.too_few:
            parts.append(f"{self.too_few} not compared for too few victims")
        return "; ".join(parts) + "."


def _times(ratio: float) -> str:
    return "any multiple of" if not math.isfinite(ratio) else f"{ratio:.1f}×"


@dataclass(frozen=True)
class ModelAudit:
    """A fairness audit of a screening model (see the module docstring)."""

    generated_at: str
    model: dict[str, str | int | float | bool | None]
    data: str
    rows: int
    outcomes: tuple[str, ...]
    thresholds: dict[str, float]
    settings: AuditSettings
    attributes: tuple[str, ...]
    observed: LabelAudit
    truth: LabelAudit | None
    identification: IdentificationAudit | None

    @property
    def error_comparisons(self) -> tuple[Comparison, ...]:
        return self.observed.comparisons + (self.truth.comparisons if self.truth else ())

    def answer(self) -> Answer:
        comps = self.error_comparisons
        misses = tuple(c for c in comps if c.metric == PRIMARY and c.verdict == DISPARITY)
        alarms = tuple(c for c in comps if c.metric == SECONDARY and c.verdict == DISPARITY)
        primary = [c for c in self.observed.comparisons if c.metric == PRIMARY]
        undecided = [c.detectable_above for c in primary if c.verdict == CANNOT_TELL]
        return Answer(
            misses=misses,
            false_alarms=alarms,
            under_identified=self.identification.flags if self.identification else (),
            checked=sum(c.verdict != TOO_FEW for c in primary),
            within=sum(c.verdict == WITHIN for c in primary),
            cannot_tell=len(undecided),
            too_few=sum(c.verdict == TOO_FEW for c in primary),
            detectable=(min(undecided), max(undecided)) if undecided else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The form written as ``report.json``: every field, the criteria and the answer in words, and
        the identification flags (NaN and infinity are left to the writer, which writes ``null``)."""
        out = dataclasses.asdict(self)
        out["kind"] = "model"
        out["criteria"], out["correction"] = CRITERIA, CORRECTION
        answer = self.answer()
        out["answer"] = {
            "headline": answer.headline,
            "could_see": answer.could_see,
            **{k: v for k, v in dataclasses.asdict(answer).items()},
        }
        if self.identification is not None:
            out["identification"]["flags"] = [dataclasses.asdict(f) for f in self.identification.flags]
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ModelAudit:
        """An audit as ``report.json`` holds it; what :meth:`to_json` derives (answer, flags) is derived again."""
        truth, identification = raw.get("truth"), raw.get("identification")
        return cls(
            generated_at=str(raw["generated_at"]),
            model=dict(raw["model"]),
            data=str(raw["data"]),
            rows=int(raw["rows"]),
            outcomes=tuple(raw["outcomes"]),
            thresholds={o: float(t) for o, t in raw["thresholds"].items()},
            settings=AuditSettings.from_json(raw["settings"]),
            attributes=tuple(raw["attributes"]),
            observed=LabelAudit.from_json(raw["observed"]),
            truth=None if truth is None else LabelAudit.from_json(truth),
            identification=None if identification is None else IdentificationAudit.from_json(identification),
        )


# ---------------------------------------------------------------------------- groups
def audit_attributes() -> tuple[str, ...]:
    """Attributes audited one by one: the questionnaire's audit fields, status, destination."""
    return (*load_questionnaire().monitoring_ids, *CONTEXT_ATTRIBUTES)


def default_attributes() -> tuple[str, ...]:
    """Every attribute of a model audit: :func:`audit_attributes`, completeness, intersections."""
    return (*audit_attributes(), COMPLETENESS, *(JOIN.join(pair) for pair in INTERSECTIONS))


def interview_completeness(frame: pd.DataFrame) -> pd.Series:
    """Share of the questions that apply to each person's migrant status that got an answer, binned.

    Yes, no and don't know are answers; declined and not asked are not.
    """
    q = load_questionnaire()
    ids = [f.id for f in q.indicators if f.id in frame.columns]
    answers = frame[ids].astype(str).to_numpy()
    status = frame[STATUS_FIELD].astype(str).to_numpy() if STATUS_FIELD in frame else np.full(len(frame), "unknown")
    applies = np.ones((len(frame), len(ids)), dtype=bool)
    fields = [q.field(i) for i in ids]
    for value in pd.unique(status):
        rows = status == value
        applies[rows] = [f.applies(str(value)) for f in fields]
    answered = applies & (answers != NOT_ASKED) & (answers != DECLINED)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(applies.sum(axis=1) > 0, answered.sum(axis=1) / np.maximum(applies.sum(axis=1), 1), 0.0)
    labels = np.full(len(frame), COMPLETE, dtype=object)
    for edge, label in reversed(COMPLETENESS_BINS):
        labels[share < edge - 1e-12] = label
    return pd.Series(labels, index=frame.index, name=COMPLETENESS)


def group_labels(frame: pd.DataFrame, attribute: str) -> pd.Series:
    """Each row's group: a column, the binned completeness, or ``a × b`` intersections."""
    if attribute == COMPLETENESS:
        return interview_completeness(frame)
    if attribute in frame.columns:
        return frame[attribute].astype(str)
    parts = attribute.split(JOIN)
    for part in parts:
        if part not in frame.columns:
            raise ValueError(MISSING_COLUMN.format(column=part))
    out = frame[parts[0]].astype(str)
    for part in parts[1:]:
        out = out + JOIN + frame[part].astype(str)
    return out


def _reference(groups: pd.Series, attribute: str, reference: str | Mapping[str, str]) -> str:
    counts = groups.value_counts()
    wanted = reference.get(attribute, "largest") if isinstance(reference, Mapping) else reference
    if wanted == "largest":
        # Complete interviews are the natural reference of completeness, when there are any.
        return COMPLETE if attribute == COMPLETENESS and COMPLETE in counts.index else str(counts.index[0])
    if wanted not in counts.index:
        raise ValueError(BAD_REFERENCE.format(group=wanted, attribute=attribute, groups=sorted(counts.index)))
    return str(wanted)


# ---------------------------------------------------------------------------- metrics
def metric_functions(threshold: float) -> dict[str, Metric]:
    """The audited metrics as functions ``(y, p) -> float`` built from :mod:`pipeline.metrics`."""
    tm = threshold_metrics(threshold)
    sm = score_metrics()

    def prevalence(yt: np.ndarray, _p: np.ndarray) -> float:
        return float(np.mean(yt)) if len(yt) else float("nan")

    def fnr(yt: np.ndarray, pp: np.ndarray) -> float:
        return 1.0 - tm["sensitivity"](yt, pp)

    def fpr(yt: np.ndarray, pp: np.ndarray) -> float:
        return 1.0 - tm["specificity"](yt, pp)

    return {
        "prevalence": prevalence,
        "selection_rate": tm["selection_rate"],
        "sensitivity": tm["sensitivity"],
        "fnr": fnr,
        "fpr": fpr,
        "ppv": tm["ppv"],
        "auroc": sm["auroc"],
        "ece": sm["ece"],
    }


def metric_frame(*, y: np.ndarray, p: np.ndarray, groups: pd.Series, threshold: float) -> MetricFrame:
    """Fairlearn's MetricFrame of :func:`metric_functions` (the reference the audit is tested against)."""
    return MetricFrame(metrics=metric_functions(threshold), y_true=y, y_pred=p, sensitive_features=groups.to_numpy())


def _interval(samples: np.ndarray) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size < 2:
        return math.nan, math.nan
    lo, hi = np.quantile(finite, [0.025, 0.975])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Grouping:
    """The groups of one attribute: each row's group index, the names, the reference, resamples."""

    attribute: str
    names: tuple[str, ...]
    index: np.ndarray
    reference: int
    resamples: tuple[np.ndarray, ...]

    def mask(self, k: int) -> np.ndarray:
        return self.index == k

    @property
    def reference_name(self) -> str:
        return self.names[self.reference]

    def order(self) -> list[int]:
        """The reference first, then the others from the largest."""
        sizes = np.bincount(self.index, minlength=len(self.names))
        return sorted(range(len(self.names)), key=lambda k: (k != self.reference, -sizes[k], self.names[k]))


def grouping(
    frame: pd.DataFrame, attribute: str, *, reference: str | Mapping[str, str], settings: AuditSettings
) -> Grouping:
    """Groups of ``attribute`` with bootstrap resamples drawn within each group (groups independent).

    Seeded by ``(seed, attribute)``, so every section and outcome of one attribute uses the
    same resamples.
    """
    labels = group_labels(frame, attribute)
    ref = _reference(labels, attribute, reference)
    index, uniques = pd.factorize(labels, sort=True)
    names = tuple(str(u) for u in uniques)
    key = int.from_bytes(attribute.encode("utf-8")[:16].ljust(16, b"\0"), "little")
    rng = np.random.default_rng([settings.seed, key])
    sizes = np.bincount(index, minlength=len(names))
    return Grouping(
        attribute=attribute,
        names=names,
        index=np.asarray(index),
        reference=names.index(ref),
        resamples=tuple(resample_counts(int(n), n_boot=settings.n_boot, rng=rng) for n in sizes),
    )


def _group_table(*, grouping: Grouping, outcome: str, y: np.ndarray, p: np.ndarray, threshold: float) -> GroupTable:
    names = (*POPULATION_METRICS, *ERROR_METRICS, *OTHER_METRICS)
    functions = metric_functions(threshold)
    rows = []
    for k in grouping.order():
        mask = grouping.mask(k)
        yk, pk, w = y[mask], p[mask], grouping.resamples[k]
        boot = weighted_metrics(yk, pk, threshold=threshold, weights=w, metrics=list(names)) if w.size else {}
        est = {m: Estimate(functions[m](yk, pk), *_interval(np.asarray(boot.get(m, np.empty(0))))) for m in names}
        victims = int(yk.sum())
        rows.append(
            GroupMetrics(
                group=grouping.names[k],
                people=int(mask.sum()),
                victims=victims,
                non_victims=int(mask.sum()) - victims,
                population={m: est[m] for m in POPULATION_METRICS},
                errors={m: est[m] for m in ERROR_METRICS},
                other={m: est[m] for m in OTHER_METRICS},
            )
        )
    return GroupTable(
        attribute=grouping.attribute, outcome=outcome, reference=grouping.reference_name, groups=tuple(rows)
    )


@dataclass(frozen=True)
class _Pending(Compared):
    """A comparison before its family's adjustment: what it compares, its counts and its unadjusted test."""

    test: RatioTest

    def enough(self, settings: AuditSettings) -> bool:
        return min(self.cases, self.ref_cases) >= settings.min_cases


def _pending(
    *,
    section: str,
    attribute: str,
    outcome: str,
    metric: str,
    group: str,
    reference: str,
    counts: tuple[int, int, int, int],
    settings: AuditSettings,
) -> _Pending:
    events, cases, ref_events, ref_cases = (int(c) for c in counts)
    return _Pending(
        section=section,
        attribute=attribute,
        outcome=outcome,
        metric=metric,
        group=group,
        reference=reference,
        events=events,
        cases=cases,
        ref_events=ref_events,
        ref_cases=ref_cases,
        test=ratio_test(
            events=events, cases=cases, ref_events=ref_events, ref_cases=ref_cases, tolerance=settings.tolerance
        ),
    )


def _decide(pending: Sequence[_Pending], settings: AuditSettings) -> tuple[Comparison, ...]:
    """Adjust one family's p-values together and give each comparison its verdict."""
    family = [p for p in pending if p.enough(settings)]
    disparity = dict(zip(map(id, family), adjust([p.test.p_disparity for p in family]), strict=True))
    within = dict(zip(map(id, family), adjust([p.test.p_within for p in family]), strict=True))
    out = []
    for p in pending:
        above, below = detectable_ratios(
            cases=p.cases,
            ref_cases=p.ref_cases,
            ref_rate=p.ref_rate,
            tolerance=settings.tolerance,
            alpha=settings.alpha,
            comparisons=len(family),
            power=settings.power,
        )
        if p.enough(settings):
            p_disparity, p_within = disparity[id(p)], within[id(p)]
            verdict = (
                DISPARITY if p_disparity <= settings.alpha else WITHIN if p_within <= settings.alpha else CANNOT_TELL
            )
        else:
            p_disparity = p_within = math.nan
            verdict = TOO_FEW
        out.append(
            Comparison(
                **p.compared(),
                ratio=p.test.ratio,
                ratio_lower=p.test.lower,
                ratio_upper=p.test.upper,
                p_disparity=p_disparity,
                p_within=p_within,
                detectable_above=above,
                detectable_below=below,
                verdict=verdict,
            )
        )
    return tuple(out)


def _error_counts(index: np.ndarray, groups: int, y: np.ndarray, flagged: np.ndarray, metric: str) -> np.ndarray:
    """Per group, (events, cases) of the miss rate (missed, victims) or false-alarm rate (flagged, non-victims)."""
    cases = y == 1 if metric == PRIMARY else y == 0
    events = cases & (~flagged if metric == PRIMARY else flagged)
    return np.stack(
        [np.bincount(index, weights=events, minlength=groups), np.bincount(index, weights=cases, minlength=groups)],
        axis=1,
    ).astype(int)


def _label_section(
    *,
    section: str,
    frame: pd.DataFrame,
    labels: Mapping[str, str],
    scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    groupings: Sequence[Grouping],
    settings: AuditSettings,
) -> tuple[list[GroupTable], list[_Pending]]:
    tables, pending = [], []
    for g in groupings:
        for outcome, column in labels.items():
            y = frame[column].to_numpy().astype(int)
            p = scores[outcome]
            tables.append(_group_table(grouping=g, outcome=outcome, y=y, p=p, threshold=thresholds[outcome]))
            flagged = p >= thresholds[outcome]
            for metric in ERROR_METRICS:
                counts = _error_counts(g.index, len(g.names), y, flagged, metric)
                for k in g.order()[1:]:
                    pending.append(
                        _pending(
                            section=section,
                            attribute=g.attribute,
                            outcome=outcome,
                            metric=metric,
                            group=g.names[k],
                            reference=g.reference_name,
                            counts=(*counts[k], *counts[g.reference]),
                            settings=settings,
                        )
                    )
    return tables, pending


def identification_audit(
    *, frame: pd.DataFrame, outcomes: Sequence[str], groupings: Sequence[Grouping], settings: AuditSettings
) -> IdentificationAudit:
    """Share of each group's true victims that carry a label, compared with the reference's."""
    tables, pending = [], []
    for g in groupings:
        for outcome in outcomes:
            observed = frame[LABELS[outcome]].to_numpy().astype(int)
            truth = frame[TRUTH[outcome]].to_numpy().astype(int)
            rows = []
            for k in g.order():
                mask = g.mask(k)
                w = g.resamples[k]
                true_b, obs_b = truth[mask] @ w, (observed[mask] & truth[mask]) @ w
                with np.errstate(divide="ignore", invalid="ignore"):
                    rate_b = np.where(true_b > 0, obs_b / np.where(true_b > 0, true_b, 1), np.nan)
                n_true = int(truth[mask].sum())
                labelled = int((observed[mask] & truth[mask]).sum())
                rows.append(
                    IdentificationGroup(
                        group=g.names[k],
                        people=int(mask.sum()),
                        true_victims=n_true,
                        labelled=labelled,
                        observed_prevalence=float(observed[mask].mean()),
                        true_prevalence=float(truth[mask].mean()),
                        rate=Estimate(labelled / n_true if n_true else math.nan, *_interval(np.asarray(rate_b))),
                    )
                )
            tables.append(
                IdentificationTable(
                    attribute=g.attribute, outcome=outcome, reference=g.reference_name, groups=tuple(rows)
                )
            )
            ref_row = rows[0]
            for row in rows[1:]:
                pending.append(
                    _pending(
                        section=TRUE_STATE,
                        attribute=g.attribute,
                        outcome=outcome,
                        metric=IDENTIFICATION,
                        group=row.group,
                        reference=ref_row.group,
                        counts=(row.labelled, row.true_victims, ref_row.labelled, ref_row.true_victims),
                        settings=settings,
                    )
                )
    return IdentificationAudit(tables=tuple(tables), comparisons=_decide(pending, settings))


def model_scores(model: ScreeningModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The model's calibrated probability of each outcome for every row."""
    codes = model.encoder.transform(frame)
    return model.predict_proba(codes.to_numpy())


def audit_model(
    *,
    model: ScreeningModel,
    frame: pd.DataFrame,
    settings: AuditSettings,
    reference: str | Mapping[str, str] = "largest",
    attributes: Sequence[str] | None = None,
    data: str = "",
) -> ModelAudit:
    """Audit ``model`` on ``frame`` by group (see the module docstring).

    Parameters
    ----------
    settings : the tolerance band, the fewest cases for a verdict, the tests' error rate and
        power, and the tables' bootstrap (:meth:`AuditSettings.from_config`).
    reference : ``"largest"``, a group name, or ``{attribute: group}`` (others: largest).
    attributes : restrict the audit (default :func:`default_attributes`).
    data : a description of ``frame`` for the report.
    """
    for column in LABELS.values():
        if column not in frame.columns:
            raise ValueError(MISSING_COLUMN.format(column=column))
    attributes = tuple(attributes) if attributes is not None else default_attributes()
    scores = model_scores(model, frame)
    outcomes = tuple(model.outcome_names)
    # "Would refer" is what a settled screening refers: the support tier or above (models.referral).
    thresholds = {o: float(model.outcomes[o].referral["support"]) for o in outcomes}
    groupings = [grouping(frame, a, reference=reference, settings=settings) for a in attributes]
    has_truth = all(TRUTH[o] in frame.columns for o in outcomes)
    sections = {OBSERVED: {o: LABELS[o] for o in outcomes}}
    if has_truth:
        sections[TRUE_STATE] = {o: TRUTH[o] for o in outcomes}
    tables: dict[str, list[GroupTable]] = {}
    pending: dict[str, list[_Pending]] = {}
    for section, labels in sections.items():
        tables[section], pending[section] = _label_section(
            section=section,
            frame=frame,
            labels=labels,
            scores=scores,
            thresholds=thresholds,
            groupings=groupings,
            settings=settings,
        )
    decided = _decide([p for s in sections for p in pending[s]], settings)
    label_audits = {
        s: LabelAudit(section=s, tables=tuple(tables[s]), comparisons=tuple(c for c in decided if c.section == s))
        for s in sections
    }
    return ModelAudit(
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        model={k: v for k, v in model.metadata.items() if isinstance(v, str | int | float | bool)},
        data=data,
        rows=len(frame),
        outcomes=outcomes,
        thresholds=thresholds,
        settings=settings,
        attributes=attributes,
        observed=label_audits[OBSERVED],
        truth=label_audits.get(TRUE_STATE),
        identification=identification_audit(frame=frame, outcomes=outcomes, groupings=groupings, settings=settings)
        if has_truth
        else None,
    )
