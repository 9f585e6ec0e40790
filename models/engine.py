"""The one scoring engine: every score, explanation and recommendation that Tarozu gives.

The API (one case and batches), ``/invocations``, the MLflow pyfunc and training's checks
all go through :class:`ScreeningEngine`. For each case it gives, per outcome, the calibrated
probability with its interval, the band and the exact explanation (``base_value +
sum(contributions) == log_odds``), and for the case the recommendation:

- a referral tier (:mod:`models.referral`: ``nrm``, ``support``, ``information``, ``none``),
  the highest over the outcomes, final only when it is settled (see
  :mod:`models.interview`): the questions not yet asked would change the *tier* with a
  chance below the model's level. The status follows the tier: ``refer`` is a settled
  ``nrm`` or ``support`` tier (a referral to a service; the tier says which), and
  ``no_referral`` a settled ``information`` or ``none`` tier;
- ``ask_more`` otherwise, with no final tier, the tier the case leans to now (never a final
  answer), the range the probability could still reach and the next questions, best first;
- never a referral on non-answers alone: without a ``yes`` answer, the screener's own "high"
  concern or the danger question, the strongest status is ``ask_more`` and the tier it leans
  to is at most ``support`` (never ``nrm``); without a ``yes`` answer no band is ``high``;
- ``refer`` to ``nrm`` with ``urgent`` whenever the person, or someone close to them, is in
  danger now.

The bands (low, medium, high) describe each outcome's signs at the outcome's thresholds;
the tier is the one decision for the person.

A question not asked, a declined answer and an unrecorded context field contribute exactly 0
(the model checks that when it loads) and never appear among the reasons. The base value is
the score of an empty form for who is being screened (``migrant_status``), so every reason
is a change from "nothing asked yet".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from models.interview import RULE, RULES, CommonDraws, Outlook, class_posterior, outlook
from models.logodds import expit, logit
from models.questionnaire import (
    DECLINED,
    DONT_KNOW,
    FAMILY_MEMBER,
    LANGUAGES,
    NO,
    NOT_ASKED,
    STATUS_FIELD,
    YES,
    Field,
    load_questionnaire,
)
from models.referral import REFERRAL_TIERS, THRESHOLD_TIERS, TIERS
from models.screening import ASKED_ANSWERS, BANDS, ScreeningModel

STATUSES: tuple[str, ...] = ("refer", "no_referral", "ask_more")
TOP_NEXT = 5
TOP_REASONS = 8
"""Reasons per outcome in the compact result: the largest contributions, as the page shows them."""
EXPLAIN: tuple[str, ...] = ("compact", "full")
"""The forms of a described result: ``compact`` (each outcome's top reasons) or ``full`` (every
contribution, with the base value and log-odds they add up to)."""
DANGER_ANSWERS: tuple[str, ...] = ("yes", "no", "declined", "not_asked")
_KINDS: tuple[str, ...] = (YES, NO, DONT_KNOW, DECLINED, NOT_ASKED)
"""An indicator's answers, counted per case by one ``bincount``."""


def _cutoff(threshold: float) -> float:
    """The log-odds at which a probability reaches ``threshold`` (infinite for an empty tier)."""
    return float(logit(threshold)) if threshold < 1.0 else float("inf")


@dataclass(frozen=True)
class Interview:
    """What the screener recorded beside the answers: the danger question and their own concern."""

    danger: str = NOT_ASKED
    screener_assessment: str | None = None


@dataclass(frozen=True)
class OutcomeAssessment:
    probability: float
    interval: tuple[float, float]
    range: tuple[float, float]
    band: str
    above_threshold: bool
    threshold: float
    base_value: float
    log_odds: float
    contributions: dict[str, float]
    """Only fields that carry evidence, in field order: answered questions, recorded context."""


@dataclass(frozen=True)
class Assessment:
    """One case's scores, explanation and recommendation, as numbers (no texts)."""

    codes: tuple[int, ...]
    outcomes: dict[str, OutcomeAssessment]
    status: str
    urgent: bool
    settled: bool
    flip_chance: float
    next_questions: tuple[tuple[str, float], ...]
    counts: dict[str, int]
    tier: str | None = None
    """The final referral tier; None while the case is not settled (status ``ask_more``)."""
    leaning_tier: str = "none"
    """The tier the answers so far point to (at most ``support`` without a told sign); not final."""
    outlook_rule: int = RULE
    """The rule of :mod:`models.interview` that gave ``settled``, ``flip_chance``, the ranges and the next questions."""

    @property
    def refer(self) -> bool:
        return self.status == "refer"

    def compact(self) -> dict[str, Any]:
        """Every number of the assessment: its outputs and, per outcome, the contributions."""
        return {
            "outcomes": {
                name: {
                    "probability": o.probability,
                    "interval": list(o.interval),
                    "range": list(o.range),
                    "band": o.band,
                    "above_threshold": o.above_threshold,
                    "threshold": o.threshold,
                    "base_value": o.base_value,
                    "log_odds": o.log_odds,
                    "contributions": o.contributions,
                }
                for name, o in self.outcomes.items()
            },
            "status": self.status,
            "refer": self.refer,
            "tier": self.tier,
            "leaning_tier": self.leaning_tier,
            "urgent": self.urgent,
            "settled": self.settled,
            "flip_chance": self.flip_chance,
            "next_questions": [fid for fid, _ in self.next_questions],
            "interview": self.counts,
            "outlook_rule": self.outlook_rule,
        }

    def outputs(self) -> dict[str, Any]:
        """What the audit log keeps: :meth:`compact` without the contributions, which are a pure
        function of the answers and the model version and are recomputed when read."""
        logged = self.compact()
        for outcome in logged["outcomes"].values():
            del outcome["contributions"]
        return logged


class ScreeningEngine:
    """A :class:`ScreeningModel` ready to score; see the module docstring."""

    def __init__(self, model: ScreeningModel) -> None:
        q = load_questionnaire()
        self.model = model
        self.fields: tuple[str, ...] = model.fields
        self.field_defs: tuple[Field, ...] = tuple(model.encoder.fields)
        self._position = {fid: j for j, fid in enumerate(self.fields)}
        self._codes = tuple({level: k for k, level in enumerate(f.levels)} for f in self.field_defs)
        self.outcome_names = model.outcome_names
        kinds = [f.kind for f in self.field_defs]
        self._indicators = np.array([j for j, k in enumerate(kinds) if k == "indicator"], dtype=np.int64)
        self._not_asked = np.array([self.field_defs[j].levels.index(NOT_ASKED) for j in self._indicators])
        self._yes = np.array([self.field_defs[j].levels.index(YES) for j in self._indicators])
        self._status = self.fields.index(STATUS_FIELD) if STATUS_FIELD in self.fields else None
        status_levels = q.field(STATUS_FIELD).levels
        self._status_levels = status_levels
        # applicable[s, i]: indicator i is put to a person of status level s
        self._applicable = np.array(
            [[self.field_defs[j].applies(s) for j in self._indicators] for s in status_levels], dtype=bool
        )
        # the questionnaire's reference levels: never evidence, never a reason
        self._silent = [{f.reference, DECLINED} if f.kind == "indicator" else {f.reference} for f in self.field_defs]
        # Flat lookups by (field, level), the column ``offset[j] + code``: whether field j at that level is
        # evidence, so a reason (never the status: it is in the base value); and for an indicator, which
        # answer it is (its position in _KINDS).
        self._offset = np.concatenate(([0], np.cumsum([len(f.levels) for f in self.field_defs])[:-1]))
        self._evidence = np.array(
            [
                j != self._status and level not in self._silent[j]
                for j, f in enumerate(self.field_defs)
                for level in f.levels
            ]
        )
        kind = np.full(int(self._offset[-1]) + len(self.field_defs[-1].levels), -1, dtype=np.int64)
        for j in self._indicators:
            for c, level in enumerate(self.field_defs[j].levels):
                kind[self._offset[j] + c] = _KINDS.index(level)
        self._kind = kind
        self._indicator_offset = self._offset[self._indicators]
        # (O, I, A): change of each outcome's log-odds if indicator i got answer a
        self._answer_tables = np.stack(
            [
                np.stack([model.outcomes[o].contributions[j][: len(ASKED_ANSWERS)] for j in self._indicators])
                for o in self.outcome_names
            ]
        )
        # (O, 3): each outcome's log-odds cut-offs of the information, support and nrm tiers
        self._cutoffs = np.array(
            [[_cutoff(model.outcomes[o].referral[t]) for t in THRESHOLD_TIERS] for o in self.outcome_names]
        )
        am = model.answer_model
        order = [am.indicators.index(self.fields[j]) for j in self._indicators]
        self._answer_p = am.p[:, :, order, :]  # (S, K, I, A)
        self._level = am.settled_flip_chance
        self._texts = {lang: q.texts(lang) for lang in LANGUAGES}
        # What a reason says of field j at code c, in each language: (field, answer, answer text, reason),
        # looked up once here rather than in the texts for every reason of every response.
        self._reason_parts = {
            lang: tuple(
                tuple((f.id, level, texts.value(f.id, level), texts.reason(f.id)) for level in f.levels)
                for f in self.field_defs
            )
            for lang, texts in self._texts.items()
        }
        self._recommendations: dict[tuple[str, str | None, str | None, bool], str] = {}
        self._caveat = {lang: " ".join(str(t.raw["messages"]["caveat"]).split()) for lang, t in self._texts.items()}
        # per field j: each outcome's change of log-odds if it were answered yes, and no (F, 2, O); zero
        # for a field that is not an indicator (never a next question)
        self._yes_no = np.zeros((len(self.fields), 2, len(self.outcome_names)))
        for j in self._indicators:
            for a, answer in enumerate((YES, NO)):
                k = self.field_defs[j].levels.index(answer)
                self._yes_no[j, a] = [model.outcomes[o].contributions[j][k] for o in self.outcome_names]
        # each language's question of every indicator, and the family module's wording of its own
        family_module = [fid for fid in q.family_module if fid in self._position]
        self._questions = {
            lang: {
                False: {self.fields[j]: t.question(self.fields[j]) for j in self._indicators},
                True: {fid: t.family_question(fid) for fid in family_module},
            }
            for lang, t in self._texts.items()
        }

    # ------------------------------------------------------------------ encoding
    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """Level codes of one case given as ``{field: raw value}``; absent fields are not asked."""
        codes = []
        for fid, table, field in zip(self.fields, self._codes, self.field_defs, strict=True):
            value = values.get(fid)
            code = table.get(value) if isinstance(value, str) else None
            codes.append(table[field.normalise(value)] if code is None else code)
        return np.array(codes, dtype=np.int64)

    def encode_many(self, cases: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if not cases:
            return np.zeros((0, len(self.fields)), dtype=np.int64)
        return np.vstack([self.encode(case) for case in cases])

    # ------------------------------------------------------------------ assessing
    def status_level(self, codes: np.ndarray) -> str:
        """The case's migrant_status level (unknown when the model does not use it)."""
        if self._status is None:
            return self._status_levels[-1]
        return self.field_defs[self._status].levels[int(codes[self._status])]

    @cached_property
    def common_draws(self) -> CommonDraws:
        """Outlook rule 2's completions for this model, drawn once (on first use)."""
        return CommonDraws.shared(
            tables=self._answer_tables, answer_p=self._answer_p, cutoffs=self._cutoffs, level=self._level
        )

    def assess_many(
        self, codes: np.ndarray, interviews: Sequence[Interview] | None = None, *, rule: int = RULE
    ) -> list[Assessment]:
        """Every case of a ``(n, n_fields)`` array of codes; ``interviews`` default to none recorded.

        ``rule`` is the outlook rule (:data:`models.interview.RULES`): the current one for a new
        screening, the logged one to recompute an old one.
        """
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        scores = self.model.score_codes(codes)
        interviews = interviews if interviews is not None else [Interview()] * codes.shape[0]
        kinds, applicable, views = self._outlooks(codes, scores, rule)
        return [
            self._assess(codes[i], scores, i, interviews[i], kinds[i], applicable[i], views[i], rule)
            for i in range(codes.shape[0])
        ]

    def outlooks(self, codes: np.ndarray, *, rule: int = RULE) -> Sequence[Outlook]:
        """What the questions not yet asked could still do to each case of ``codes``: its settled check,
        flip chance, ranges and next questions, as :meth:`assess_many` gives them."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        return self._outlooks(codes, self.model.score_codes(codes), rule)[2]

    def _outlooks(
        self, codes: np.ndarray, scores: dict[str, Any], rule: int
    ) -> tuple[np.ndarray, np.ndarray, Sequence[Outlook]]:
        """Each case's answers by kind (B, I) (positions in ``_KINDS``), which questions apply to it
        (B, I), and its outlook, all cases at once with rule 2."""
        if rule not in RULES:
            raise ValueError(f"outlook rule {rule!r} is not one of {RULES}")
        n_cases = codes.shape[0]
        status = codes[:, self._status] if self._status is not None else np.full(n_cases, len(self._status_levels) - 1)
        kinds = self._kind[self._indicator_offset + codes[:, self._indicators]]
        applicable = self._applicable[status]
        still_to_ask = applicable & (kinds == _KINDS.index(NOT_ASKED))
        log_odds = np.column_stack([scores[name].log_odds for name in self.outcome_names])  # (B, O)
        class_p = np.array([self._class_posterior(row) for row in expit(log_odds).tolist()]).reshape(n_cases, -1)
        if rule != 1:
            views = self.common_draws.outlook_many(
                log_odds=log_odds, class_p=class_p, unasked=still_to_ask, status=status
            )
            return kinds, applicable, views
        views = []
        for i in range(n_cases):
            unasked = np.flatnonzero(still_to_ask[i])
            views.append(
                outlook(
                    log_odds=log_odds[i],
                    cutoffs=self._cutoffs,
                    tables=self._answer_tables[:, unasked, :],
                    answer_p=self._answer_p[status[i]][:, unasked, :],
                    class_p=class_p[i],
                    level=self._level,
                    seed=codes[i].tolist(),
                )
            )
        return kinds, applicable, views

    def assess(self, codes: np.ndarray, interview: Interview | None = None, *, rule: int = RULE) -> Assessment:
        return self.assess_many(np.asarray(codes)[None, :], [interview or Interview()], rule=rule)[0]

    def _class_posterior(self, probabilities: list[float]) -> np.ndarray:
        by_outcome = dict(zip(self.outcome_names, probabilities, strict=True))
        return class_posterior(np.array([by_outcome.get("labour", 0.0), by_outcome.get("sexual", 0.0)]))

    def _assess(
        self,
        codes: np.ndarray,
        scores: Any,
        i: int,
        interview: Interview,
        kinds: np.ndarray,
        applicable: np.ndarray,
        view: Outlook,
        rule: int,
    ) -> Assessment:
        code_list = codes.tolist()
        tally = np.bincount(kinds[applicable], minlength=len(_KINDS)).tolist()
        unasked = np.flatnonzero(applicable & (kinds == _KINDS.index(NOT_ASKED)))
        status_code = code_list[self._status] if self._status is not None else len(self._status_levels) - 1
        status_shift = {
            name: float(self.model.outcomes[name].contributions[self._status][status_code])
            if self._status is not None
            else 0.0
            for name in self.outcome_names
        }
        answered_yes = tally[_KINDS.index(YES)] > 0
        evidence = np.flatnonzero(self._evidence[self._offset + codes])
        outcomes = {}
        for k, name in enumerate(self.outcome_names):
            s = scores[name]
            row = s.contributions[i]
            outcomes[name] = OutcomeAssessment(
                probability=float(s.probability[i]),
                interval=(float(s.lower[i]), float(s.upper[i])),
                range=(float(view.ranges[k, 0]), float(view.ranges[k, 1])),
                # "high" needs a sign that was told: non-answers and context alone are at most "medium"
                band=BANDS[int(s.band[i]) if answered_yes else min(int(s.band[i]), BANDS.index("medium"))],
                above_threshold=bool(s.above_threshold[i]),
                threshold=self.model.outcomes[name].threshold,
                base_value=float(s.base_value) + status_shift[name],
                log_odds=float(s.log_odds[i]),
                contributions=dict(
                    zip([self.fields[j] for j in evidence.tolist()], row[evidence].tolist(), strict=True)
                ),
            )
        eligible = answered_yes or interview.screener_assessment == "high" or interview.danger == YES
        model_tier = TIERS[max(int(scores[name].tier[i]) for name in self.outcome_names)]
        # Non-answers and context alone never lean to a specialist assessment.
        leaning = model_tier if eligible or model_tier != "nrm" else "support"
        urgent = interview.danger == YES
        tier: str | None
        if urgent:
            status, tier, leaning = "refer", "nrm", "nrm"
        elif not view.settled:
            status, tier = "ask_more", None
        elif model_tier in REFERRAL_TIERS:
            status, tier = ("refer", model_tier) if eligible else ("ask_more", None)
        else:
            status, tier = "no_referral", model_tier
        next_questions = tuple(
            (self.fields[self._indicators[unasked[p]]], float(view.effects[p])) for p in view.order[:TOP_NEXT]
        )
        total = sum(tally)
        not_asked, declined = tally[_KINDS.index(NOT_ASKED)], tally[_KINDS.index(DECLINED)]
        counts = {
            "total": total,
            "answered": total - not_asked - declined,
            "dont_know": tally[_KINDS.index(DONT_KNOW)],
            "declined": declined,
            "not_asked": not_asked,
            "not_applicable": len(self._indicators) - total,
        }
        return Assessment(
            codes=tuple(code_list),
            outcomes=outcomes,
            status=status,
            urgent=urgent,
            settled=view.settled,
            flip_chance=view.flip_chance,
            next_questions=next_questions,
            counts=counts,
            tier=tier,
            leaning_tier=leaning,
            outlook_rule=rule,
        )

    # ------------------------------------------------------------------ describing
    def describe(
        self, assessment: Assessment, *, lang: str = "en", probabilities: bool = True, explain: str = "full"
    ) -> dict[str, Any]:
        """The result of one case as a person reads it, texts in ``lang``.

        With ``probabilities=False`` (the screener's view by default) every number that is the
        probability of a type of exploitation, or gives it back, is left out: per outcome the
        probability, its interval and range, the threshold, the base value and log-odds, and
        per next question the probabilities if yes and if no. What stays is the tier, the band
        words, the reasons (with their relative weights) and the next questions.

        ``explain="full"`` gives each outcome's ``explanation``: every contribution, largest
        first (with the base value and log-odds when probabilities are shown). ``"compact"`` gives
        ``reasons`` in its place: the first :data:`TOP_REASONS` of those same contributions.
        Everything else is the same in both forms.
        """
        if explain not in EXPLAIN:
            raise ValueError(f"explain must be one of {EXPLAIN}, not {explain!r}")
        full = explain == "full"
        texts = self._texts[lang]
        messages = texts.raw["messages"]
        parts = self._reason_parts[lang]
        codes = assessment.codes
        outcomes: dict[str, Any] = {}
        for name, o in assessment.outcomes.items():
            reasons = []
            ranked = sorted(o.contributions.items(), key=lambda item: -abs(item[1]))
            for fid, value in ranked if full else ranked[:TOP_REASONS]:
                j = self._position[fid]
                field, level, answer_text, reason = parts[j][codes[j]]
                reasons.append(
                    {
                        "field": field,
                        "answer": level,
                        "answer_text": answer_text,
                        "contribution": value,
                        "direction": "raises" if value > 0 else "lowers" if value < 0 else "none",
                        "reason": reason,
                    }
                )
            outcome: dict[str, Any] = {"label": messages["outcomes"][name]}
            if probabilities:
                outcome.update(probability=o.probability, interval=list(o.interval), range=list(o.range))
            outcome.update(band=o.band, band_label=messages["bands"][o.band], above_threshold=o.above_threshold)
            if probabilities:
                outcome["threshold"] = o.threshold
            if not full:
                outcome["reasons"] = reasons
            elif probabilities:
                outcome["explanation"] = {"base_value": o.base_value, "log_odds": o.log_odds, "contributions": reasons}
            else:
                outcome["explanation"] = {"contributions": reasons}
            outcomes[name] = outcome
        text = self.recommendation_text(assessment, lang=lang)
        next_questions: list[dict[str, Any]] = []
        questions = self._questions[lang][self._status_of(codes) == FAMILY_MEMBER]
        names = list(assessment.outcomes)
        if probabilities and assessment.next_questions:  # worked out only when shown, all at once
            now = np.array([o.log_odds for o in assessment.outcomes.values()])
            changes = self._yes_no[[self._position[fid] for fid, _ in assessment.next_questions]]
            answered = expit(now + changes).tolist()  # (question, yes / no, outcome)
        for fid, effect in assessment.next_questions:
            question: dict[str, Any] = {
                "indicator": fid,
                # A family member is asked about their relative, in the family module's wording.
                "question": questions[fid],
            }
            if probabilities:
                if_yes, if_no = answered[len(next_questions)]
                question.update(
                    if_yes=dict(zip(names, if_yes, strict=True)), if_no=dict(zip(names, if_no, strict=True))
                )
            question["effect"] = effect
            next_questions.append(question)
        counts = assessment.counts
        return {
            "outcomes": outcomes,
            "recommendation": {
                "status": assessment.status,
                "status_label": messages["statuses"][assessment.status],
                "refer": assessment.refer,
                "tier": assessment.tier,
                "tier_label": None if assessment.tier is None else messages["tiers"][assessment.tier],
                "leaning_tier": assessment.leaning_tier,
                "leaning_tier_label": messages["tiers"][assessment.leaning_tier],
                "urgent": assessment.urgent,
                "settled": assessment.settled,
                "flip_chance": assessment.flip_chance,
                "text": text,
            },
            "interview": {**counts, "text": str(messages["interview"]).format(**counts)},
            "next_questions": next_questions,
            "caveat": self._caveat[lang],
        }

    def recommendation_text(self, assessment: Assessment, *, lang: str = "en") -> str:
        """What the recommendation means, in plain words: the final tier's meaning, or why it is not settled.

        A settled case reads its tier's meaning; one not settled reads the ``ask_more`` text and
        the tier it leans to, marked as not settled; danger comes first.
        """
        tier, urgent = assessment.tier, assessment.urgent
        leaning = assessment.leaning_tier if tier is None else None
        key = (lang, tier, leaning, urgent)
        text = self._recommendations.get(key)
        if text is None:  # a few texts per language, each made once
            messages = self._texts[lang].raw["messages"]
            if tier is not None:
                text = " ".join(str(messages["tier_texts"][tier]).split())
            else:
                leans = str(messages["leaning"]).format(tier=messages["tiers"][leaning])
                text = " ".join(str(messages["ask_more"]).split()) + " " + " ".join(leans.split())
            if urgent:
                text = " ".join(str(messages["urgent"]).split()) + " " + text
            self._recommendations[key] = text
        return text

    def _answer(self, assessment: Assessment, fid: str) -> str:
        j = self._position[fid]
        return self.field_defs[j].levels[assessment.codes[j]]

    def _status_of(self, codes: tuple[int, ...]) -> str | None:
        if self._status is None:
            return None
        return self.field_defs[self._status].levels[codes[self._status]]

    def render(
        self, assessment: Assessment, *, lang: str = "en", probabilities: bool = True, explain: str = "full"
    ) -> bytes:
        """:meth:`describe` as JSON."""
        return orjson.dumps(self.describe(assessment, lang=lang, probabilities=probabilities, explain=explain))

    def flat(self, assessment: Assessment, *, top_reasons: int = 3) -> dict[str, Any]:
        """One flat record: what the MLflow pyfunc and ``/invocations`` return per case.

        Columns per outcome ``o``: ``o_probability``, ``o_lower``, ``o_upper``, ``o_band``,
        ``o_above_threshold``, ``o_base_value``, ``o_log_odds`` and ``o_top_reasons`` (the
        evidence with the largest contributions, as ``field=answer:+contribution`` joined by
        ``;``); then ``status``, ``refer``, ``referral_tier`` (the final tier, None while not
        settled), ``leaning_tier`` (the tier it leans to, not final), ``settled``,
        ``flip_chance`` and ``next_questions`` (indicator ids joined by ``;``).
        """
        record: dict[str, Any] = {}
        for name, o in assessment.outcomes.items():
            top = sorted(o.contributions, key=lambda f: -abs(o.contributions[f]))[:top_reasons]
            record[f"{name}_probability"] = o.probability
            record[f"{name}_lower"], record[f"{name}_upper"] = o.interval
            record[f"{name}_band"] = o.band
            record[f"{name}_above_threshold"] = o.above_threshold
            record[f"{name}_base_value"] = o.base_value
            record[f"{name}_log_odds"] = o.log_odds
            record[f"{name}_top_reasons"] = ";".join(
                f"{fid}={self._answer(assessment, fid)}:{o.contributions[fid]:+.4f}" for fid in top
            )
        record["status"] = assessment.status
        record["refer"] = assessment.refer
        record["referral_tier"] = assessment.tier
        record["leaning_tier"] = assessment.leaning_tier
        record["settled"] = assessment.settled
        record["flip_chance"] = assessment.flip_chance
        record["next_questions"] = ";".join(fid for fid, _ in assessment.next_questions)
        return record
