"""Scoring for the API: :func:`models.screening.describe_case`, prepared once per loaded model.

``describe_case`` costs about 2.5 ms a case, most of it in scalar ``expit`` calls for the
unanswered questions and in ``np.percentile``; the API needs well under 100 us. A
:class:`CompiledModel` precomputes what does not depend on the case (the tables, the change
each unanswered indicator could make, every text in every language) and returns the same
dictionary as ``describe_case``, value for value: ``tests/serving/test_scoring.py`` checks
that on random cases, so the two cannot drift apart silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from models.logodds import expit
from models.questionnaire import ANSWERS, LANGUAGES, UNKNOWN, Field, load_questionnaire
from models.screening import BANDS, INTERVAL, ScreeningModel

TOP_UNANSWERED = 5
_YES, _NO, _UNKNOWN = (ANSWERS.index(a) for a in ("yes", "no", UNKNOWN))


@dataclass(frozen=True)
class _Outcome:
    name: str
    base_value: float
    table: np.ndarray  # (n_columns,) the model's contribution of every (field, level)
    members: np.ndarray | None  # (n_members, n_columns) the bootstrap ensemble
    member_bases: np.ndarray  # (n_members, 1)
    threshold: float
    high_threshold: float


@dataclass(frozen=True)
class Scores:
    """Scores of ``n`` cases, per outcome name: sequences of ``n`` values (arrays, or lists
    for a single case) and ``(n, n_fields)`` contributions."""

    log_odds: dict[str, Any]
    probability: dict[str, Any]
    lower: dict[str, Any]
    upper: dict[str, Any]
    contributions: dict[str, np.ndarray]
    band: dict[str, Any]
    above: dict[str, Any]


@dataclass(frozen=True)
class _Texts:
    labels: dict[str, str]
    band_labels: dict[str, str]
    refer: str
    no_referral: str
    caveat: str
    questions: dict[str, str]  # per indicator id
    # JSON fragments of one explanation entry, per model field: before the contribution (per
    # level, with the comma that separates entries) and after it (per direction: raises,
    # lowers, none).
    heads: tuple[tuple[bytes, ...], ...]
    tails: tuple[tuple[bytes, bytes, bytes], ...]


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def _percentiles(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.percentile(members, INTERVAL, axis=0)`` with numpy's ``linear`` arithmetic, faster."""
    ordered = np.sort(members, axis=0)
    n = ordered.shape[0]
    out = []
    for q in INTERVAL:
        virtual = (n - 1) * (q / 100)
        previous = math.floor(virtual)
        t = virtual - previous
        a, b = ordered[previous], ordered[min(previous + 1, n - 1)]
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out[0], out[1]


def _lerp_percentile(ordered: list[float], q: float) -> float:
    """One percentile of sorted values, with the arithmetic of numpy's ``linear`` method."""
    n = len(ordered)
    virtual = (n - 1) * (q / 100)
    previous = math.floor(virtual)
    t = virtual - previous
    a, b = ordered[previous], ordered[min(previous + 1, n - 1)]
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


class CompiledModel:
    """A :class:`ScreeningModel` ready to serve; see the module docstring."""

    def __init__(self, model: ScreeningModel) -> None:
        q = load_questionnaire()
        self.model = model
        self.fields: tuple[str, ...] = model.fields
        self.field_defs: tuple[Field, ...] = tuple(model.encoder.fields)
        self.levels = tuple(f.levels for f in self.field_defs)
        self._codes = tuple({level: k for k, level in enumerate(f.levels)} for f in self.field_defs)
        offsets = np.cumsum([0, *(len(levels) for levels in self.levels)])[:-1]
        self._offsets = offsets.astype(np.int64)
        self.outcome_names = model.outcome_names
        self._outcomes: dict[str, _Outcome] = {}
        for name, outcome in model.outcomes.items():
            members = None
            if outcome.ensemble_contributions:
                members = np.ascontiguousarray(np.concatenate(outcome.ensemble_contributions, axis=1))
            self._outcomes[name] = _Outcome(
                name=name,
                base_value=outcome.base_value,
                table=np.concatenate(outcome.contributions),
                members=members,
                member_bases=np.asarray(outcome.ensemble_base_values, dtype=float)[:, None],
                threshold=outcome.threshold,
                high_threshold=outcome.high_threshold,
            )
        # Unanswered indicators: the change of the log-odds if answered yes / no, per outcome,
        # and the largest of them (the ranking key of describe_case), all case-independent.
        indicator_ids = set(q.indicator_ids)
        self._indicators = np.array([j for j, f in enumerate(self.fields) if f in indicator_ids], dtype=np.int64)
        self._delta_yes: dict[str, np.ndarray] = {}
        self._delta_no: dict[str, np.ndarray] = {}
        impact = np.zeros(len(self._indicators))
        for name, outcome in model.outcomes.items():
            tables = [outcome.contributions[j] for j in self._indicators]
            self._delta_yes[name] = np.array([float(t[_YES] - t[_UNKNOWN]) for t in tables])
            self._delta_no[name] = np.array([float(t[_NO] - t[_UNKNOWN]) for t in tables])
            impact = np.maximum(impact, np.maximum(np.abs(self._delta_yes[name]), np.abs(self._delta_no[name])))
        self._impact = impact
        # Ranking of the indicators for "unanswered": by impact, ties in questionnaire order.
        self._impact_order: list[int] = np.argsort(-impact, kind="stable").tolist()
        self._indicator_list: list[int] = self._indicators.tolist()
        # One case: every outcome's table and ensemble members stacked, scored in one gather.
        rows: list[np.ndarray] = []
        bases: list[float] = []
        self._spans: dict[str, tuple[int, int]] = {}
        for name, o in self._outcomes.items():
            start = len(rows)
            rows.append(o.table)
            bases.append(o.base_value)
            if o.members is not None:
                rows.extend(o.members)
                bases.extend(o.member_bases[:, 0].tolist())
            self._spans[name] = (start, len(rows))
        self._stack = np.ascontiguousarray(np.vstack(rows))
        self._stack_bases = np.asarray(bases, dtype=float)
        names = list(self._outcomes)
        self._deltas = np.vstack([self._delta_yes[n] for n in names] + [self._delta_no[n] for n in names])
        self._texts = {lang: self._load_texts(lang) for lang in LANGUAGES}

    def _load_texts(self, lang: str) -> _Texts:
        texts = load_questionnaire().texts(lang)
        messages = texts.raw["messages"]
        return _Texts(
            labels={name: str(messages["outcomes"][name]) for name in self.outcome_names},
            band_labels={band: str(messages["bands"][band]) for band in BANDS},
            refer=" ".join(str(messages["refer"]).split()),
            no_referral=" ".join(str(messages["no_referral"]).split()),
            caveat=" ".join(str(messages["caveat"]).split()),
            questions={self.fields[j]: texts.question(self.fields[j]) for j in self._indicators},
            heads=tuple(
                tuple(
                    b',{"field":%b,"answer":%b,"answer_text":%b,"contribution":'
                    % (_json(f), _json(level), _json(texts.value(f, level)))
                    for level in levels
                )
                for f, levels in zip(self.fields, self.levels, strict=True)
            ),
            tails=tuple(
                tuple(  # type: ignore[misc]
                    b',"direction":"%b","reason":%b}' % (direction, _json(texts.reason(f)))
                    for direction in (b"raises", b"lowers", b"none")
                )
                for f in self.fields
            ),
        )

    # ------------------------------------------------------------------ encoding
    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """Level codes of one case, like :meth:`ScreeningModel.encode` (raises QuestionnaireError)."""
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

    # ------------------------------------------------------------------ scoring
    def score(self, codes: np.ndarray) -> Scores:
        """Scores of a ``(n, n_fields)`` array of codes, equal to :meth:`ScreeningModel.score_codes`.

        The same numpy operations on the same values (so the same bits). One case (the API's
        hot path) is scored in one gather over every outcome and ensemble member at once, with
        the interval and band computed in Python floats and numpy's ``linear`` percentile
        arithmetic.
        """
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        if codes.shape[0] == 1:
            return self._score_one(codes[0])
        columns = codes + self._offsets
        parts: dict[str, dict[str, Any]] = {k: {} for k in Scores.__dataclass_fields__}
        for name, o in self._outcomes.items():
            contributions = o.table[columns]
            log_odds = o.base_value + contributions.sum(axis=1)
            probability = expit(log_odds)
            if o.members is not None:
                members = expit(o.member_bases + np.take(o.members, columns, axis=1).sum(axis=2))
                lower, upper = _percentiles(members)
                lower, upper = np.minimum(lower, probability), np.maximum(upper, probability)
            else:
                lower = upper = probability
            parts["log_odds"][name] = log_odds
            parts["probability"][name] = probability
            parts["lower"][name] = lower
            parts["upper"][name] = upper
            parts["contributions"][name] = contributions
            parts["band"][name] = (probability >= o.threshold).astype(np.int64) + (probability >= o.high_threshold)
            parts["above"][name] = probability >= o.threshold
        return Scores(**parts)

    def _score_one(self, codes: np.ndarray) -> Scores:
        # (outcomes x (1 + members), n_fields), C-ordered so each row sums as in score_codes
        gathered = np.take(self._stack, codes + self._offsets, axis=1)
        log_odds = self._stack_bases + gathered.sum(axis=1)
        probabilities = expit(log_odds).tolist()
        z = log_odds.tolist()
        parts: dict[str, dict[str, Any]] = {k: {} for k in Scores.__dataclass_fields__}
        for name, (start, stop) in self._spans.items():
            o = self._outcomes[name]
            p = probabilities[start]
            low = high = p
            if stop > start + 1:
                ordered = sorted(probabilities[start + 1 : stop])
                low = min(_lerp_percentile(ordered, INTERVAL[0]), p)
                high = max(_lerp_percentile(ordered, INTERVAL[1]), p)
            parts["log_odds"][name] = [z[start]]
            parts["probability"][name] = [p]
            parts["lower"][name] = [low]
            parts["upper"][name] = [high]
            parts["contributions"][name] = gathered[start : start + 1]
            parts["band"][name] = [int(p >= o.threshold) + int(p >= o.high_threshold)]
            parts["above"][name] = [p >= o.threshold]
        return Scores(**parts)

    def describe(self, scores: Scores, i: int, codes: np.ndarray, *, lang: str) -> dict[str, Any]:
        """Case ``i`` of ``scores`` as :func:`models.screening.describe_case` gives it."""
        described: dict[str, Any] = orjson.loads(self.render(scores, i, codes, lang=lang)[0])
        return described

    def compact(self, scores: Scores, i: int, codes: np.ndarray) -> dict[str, Any]:
        """What the audit log keeps of case ``i``: the numbers of :meth:`describe`, no texts.

        Texts follow from the language and the questionnaire version, logged beside it.
        """
        outcomes: dict[str, Any] = {}
        refer = False
        for name in self.outcome_names:
            above = bool(scores.above[name][i])
            refer = refer or above
            outcomes[name] = self._numbers(scores, i, name, above)
            outcomes[name]["contributions"] = dict(
                zip(self.fields, scores.contributions[name][i].tolist(), strict=True)
            )
        unanswered = [self.fields[self._indicator_list[p]] for p in self._top_unanswered(codes)]
        return {"outcomes": outcomes, "refer": refer, "unanswered": unanswered}

    def render(self, scores: Scores, i: int, codes: np.ndarray, *, lang: str) -> tuple[bytes, dict[str, Any]]:
        """Case ``i`` as the JSON of :meth:`describe`, and its :meth:`compact` numbers.

        The explanation entries are spliced from fragments made once per language, so a case
        costs one ``orjson.dumps`` of its contributions instead of building and serialising
        a dictionary per model field and outcome.
        """
        texts = self._texts[lang]
        heads, tails = texts.heads, texts.tails
        code_list = codes.tolist()
        parts = [b'{"outcomes":{']
        numbers: dict[str, Any] = {}
        refer = False
        for k, name in enumerate(self.outcome_names):
            contributions = scores.contributions[name][i]
            values = contributions.tolist()
            floats = orjson.dumps(values)[1:-1].split(b",")
            flat: list[bytes] = []
            for j in np.argsort(-np.abs(contributions), kind="stable").tolist():
                value = values[j]
                flat.append(heads[j][code_list[j]])
                flat.append(floats[j])
                flat.append(tails[j][0 if value > 0 else 1 if value < 0 else 2])
            flat[0] = flat[0][1:]  # no comma before the first entry
            above = bool(scores.above[name][i])
            refer = refer or above
            n = self._numbers(scores, i, name, above)
            head = {
                "label": texts.labels[name],
                "probability": n["probability"],
                "interval": n["interval"],
                "band": n["band"],
                "band_label": texts.band_labels[n["band"]],
                "above_threshold": above,
                "threshold": n["threshold"],
                "explanation": {"base_value": n["base_value"], "log_odds": n["log_odds"], "contributions": None},
            }
            # {"label": ..., "explanation": {..., "contributions": null}} with the list spliced in
            outcome = orjson.dumps(head)[: -len(b"null}}")] + b"[" + b"".join(flat) + b"]}}"
            parts.append(b"%b%b:%b" % (b"," if k else b"", _json(name), outcome))
            numbers[name] = {**n, "contributions": dict(zip(self.fields, values, strict=True))}
        top = self._top_unanswered(codes)
        rest = {
            "recommendation": {"refer": refer, "text": texts.refer if refer else texts.no_referral},
            "unanswered": self._unanswered(scores, i, top, texts),
            "caveat": texts.caveat,
        }
        parts.append(b"}," + orjson.dumps(rest)[1:])
        unanswered = [self.fields[self._indicator_list[p]] for p in top]
        return b"".join(parts), {"outcomes": numbers, "refer": refer, "unanswered": unanswered}

    def _numbers(self, scores: Scores, i: int, name: str, above: bool) -> dict[str, Any]:
        o = self._outcomes[name]
        return {
            "probability": float(scores.probability[name][i]),
            "interval": [float(scores.lower[name][i]), float(scores.upper[name][i])],
            "band": BANDS[int(scores.band[name][i])],
            "above_threshold": above,
            "threshold": o.threshold,
            "base_value": o.base_value,
            "log_odds": float(scores.log_odds[name][i]),
        }

    def _top_unanswered(self, codes: np.ndarray) -> list[int]:
        """Positions (in the indicators) of the unanswered ones that could move the score most."""
        code_list = codes.tolist()
        indicators = self._indicator_list
        top = []
        for position in self._impact_order:
            if code_list[indicators[position]] == _UNKNOWN:
                top.append(position)
                if len(top) == TOP_UNANSWERED:
                    break
        return top

    def _unanswered(self, scores: Scores, i: int, top: list[int], texts: _Texts) -> list[dict[str, Any]]:
        if not top:
            return []
        names = list(self._outcomes)
        z = np.array([float(scores.log_odds[name][i]) for name in names] * 2)
        # rows: if yes for each outcome, then if no for each outcome (as self._deltas)
        probabilities = expit(z[:, None] + self._deltas[:, top]).tolist()
        k = len(names)
        rows = []
        for col, position in enumerate(top):
            fid = self.fields[self._indicator_list[position]]
            rows.append(
                {
                    "indicator": fid,
                    "if_yes": {name: probabilities[r][col] for r, name in enumerate(names)},
                    "if_no": {name: probabilities[k + r][col] for r, name in enumerate(names)},
                    "impact": float(self._impact[position]),
                    "question": texts.questions[fid],
                }
            )
        return rows
