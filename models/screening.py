"""The deployable screening model: additive tables for both outcomes, scored without pandas.

A :class:`ScreeningModel` is what training registers and what the API and the MLflow
pyfunc load. Each outcome (labour, sexual exploitation) is an additive model compiled to
a table of calibrated log-odds contributions per field and level, plus the same tables of
a bootstrap ensemble for the uncertainty interval. Scoring a case is a gather and a sum;
its explanation is the gathered row itself, so ``base_value + sum(contributions)`` equals
the log-odds of the probability by construction. It serialises to JSON (no pickle).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.encoding import FieldEncoder
from models.interview import CLASSES
from models.logodds import capped_total, expit
from models.questionnaire import ANSWERS, DECLINED, DONT_KNOW, NOT_ASKED, OUTCOMES, STATUS_FIELD, load_questionnaire
from models.referral import THRESHOLD_TIERS, check_thresholds, outcome_tiers

ASKED_ANSWERS: tuple[str, ...] = tuple(a for a in ANSWERS if a != NOT_ASKED)
"""The answers a question can get once it is asked: their codes are 0, 1, 2, 3."""

FORMAT = "tarozu-screening-model/3"
"""Version 3 added each outcome's referral-tier thresholds (``referral``); older files are refused."""
BANDS: tuple[str, ...] = ("low", "medium", "high")
BAD_FORMAT = "not a Tarozu screening model (format {found!r}, expected {expected!r})"
OLD_FORMAT = (
    "the model file has format {found!r}, made before referral tiers; this Tarozu reads {expected!r}: "
    "retrain the model (tarozu train) so that it carries its referral-tier thresholds"
)
BAD_SHAPE = "outcome {outcome!r}: field {field!r} has {found} contributions for {expected} levels"
NOT_ZERO = (
    "outcome {outcome!r}: field {field!r} gives {level!r} a contribution of {value!r}; an unasked, "
    "unrecorded or declined answer must contribute exactly 0"
)
OVER_CAP = (
    "outcome {outcome!r}: the don't-know answers together move the log-odds by up to {total:.4f}, "
    "above the model's cap of {cap}"
)
BAD_ANSWER_MODEL = "answer model: {problem}; retrain the model"
OTHER_QUESTIONNAIRE = (
    "the model was trained on questionnaire version {trained!r}, and this Tarozu declares version "
    "{current!r}: retrain the model on data of the current questionnaire"
)
INTERVAL = (2.5, 97.5)
_GATHER_VALUES = 1 << 19
"""Members' contributions :meth:`ScreeningModel.score_codes` gathers at once (4 MiB): it takes a
large batch a block of cases at a time, so that every temporary stays small."""


class PercentileReads:
    """``np.percentile(members, INTERVAL, axis=0)`` of ``m`` members (numpy's ``linear`` method),
    bit for bit, read off the members once sorted.

    numpy finds each percentile ``q`` at the virtual index ``(m - 1) * q / 100`` of the sorted
    members, between its two neighbours ``a`` and ``b`` (the last member for both past the
    end) at ``t``, the virtual index less the lower one's, as ``a + (b - a) * t``, or as
    ``b - (b - a) * (1 - t)`` from ``t = 0.5`` on (``_lerp`` in numpy's function base); a case
    with a NaN member gets NaN. All of that but ``a`` and ``b`` depends on ``m`` alone, so it is
    worked out once, in numpy's own arithmetic, and :meth:`read` repeats ``_lerp`` as it is.
    """

    def __init__(self, m: int) -> None:
        q = np.true_divide(np.asarray(INTERVAL, dtype=float), 100)
        virtual = (m - 1) * q
        previous = np.floor(virtual)
        following = previous + 1
        beyond, before = virtual >= m - 1, virtual < 0
        previous[beyond] = following[beyond] = -1
        previous[before] = following[before] = 0
        previous_at, following_at = previous.astype(np.intp), following.astype(np.intp)
        t = np.asarray(virtual - previous_at, dtype=float)
        self.reads = [
            (int(i), int(j), float(w), float(1 - w), bool(w >= 0.5))
            for i, j, w in zip(previous_at, following_at, t, strict=True)
        ]
        self.neighbours = np.array([at for i, j, *_ in self.reads for at in (i, j)] + [-1], dtype=np.intp)

    def read(self, ordered: np.ndarray, out: np.ndarray, *, nan_free: bool = False) -> None:
        """The percentiles of ``(k, m, n)`` members sorted along axis 1 into ``out``, ``(k,
        len(INTERVAL), n)``; ``nan_free`` says that no member can be NaN."""
        for q, (i, j, t, rest, from_above) in enumerate(self.reads):
            a, b = ordered[:, i], ordered[:, j]
            diff = np.subtract(b, a)
            if from_above:
                np.subtract(b, np.multiply(diff, rest, out=diff), out=out[:, q])
            else:
                np.add(a, np.multiply(diff, t, out=diff), out=out[:, q])
        if not nan_free:
            last = ordered[:, -1:]
            nan = np.isnan(last)
            if nan.any():
                np.copyto(out, last, where=nan)

    def read_one(self, ordered: np.ndarray, out: np.ndarray) -> None:
        """:meth:`read` of one case, ``ordered`` of shape ``(k, m, 1)``, in Python's floats: the
        same IEEE operations on the same numbers, without an array operation for each."""
        values = []
        for row in ordered[:, self.neighbours, 0].tolist():
            if row[-1] != row[-1]:  # a NaN member
                self.read(ordered, out)
                return
            values.append(
                [
                    b - (b - a) * rest if from_above else a + (b - a) * t
                    for a, b, (_, _, t, rest, from_above) in zip(row[0::2], row[1::2], self.reads, strict=False)
                ]
            )
        out[:, :, 0] = values


@dataclass
class OutcomeModel:
    """One outcome's calibrated additive model as tables.

    ``contributions[j][k]`` is the contribution of level ``k`` of field ``j``;
    ``ensemble_contributions[j]`` has one such row per bootstrap member. ``threshold`` and
    ``high_threshold`` set the bands (medium, high); ``referral`` holds the thresholds of the
    referral tiers (:mod:`models.referral`), chosen by training against capacity. A model
    built by hand without them gets information and support at ``threshold`` and nrm at
    ``high_threshold``.
    """

    base_value: float
    contributions: list[np.ndarray]
    threshold: float
    high_threshold: float
    ensemble_base_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ensemble_contributions: list[np.ndarray] = field(default_factory=list)
    estimator: str = ""
    referral: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.referral:
            self.referral = {"information": self.threshold, "support": self.threshold, "nrm": self.high_threshold}

    def bands(self, probability: np.ndarray) -> np.ndarray:
        """Each probability's band as an index of :data:`BANDS`: 0 low, 1 medium (``threshold``), 2 high."""
        return np.asarray((probability >= self.threshold).astype(np.int64) + (probability >= self.high_threshold))

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_value": self.base_value,
            "contributions": [c.tolist() for c in self.contributions],
            "threshold": self.threshold,
            "high_threshold": self.high_threshold,
            "referral": {t: self.referral[t] for t in THRESHOLD_TIERS},
            "ensemble_base_values": self.ensemble_base_values.tolist(),
            "ensemble_contributions": [c.tolist() for c in self.ensemble_contributions],
            "estimator": self.estimator,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OutcomeModel:
        return cls(
            base_value=float(raw["base_value"]),
            contributions=[np.asarray(c, dtype=float) for c in raw["contributions"]],
            threshold=float(raw["threshold"]),
            high_threshold=float(raw["high_threshold"]),
            ensemble_base_values=np.asarray(raw["ensemble_base_values"], dtype=float),
            ensemble_contributions=[
                np.asarray(c, dtype=float).reshape(-1, len(p))
                for c, p in zip(raw["ensemble_contributions"], raw["contributions"], strict=True)
            ]
            if raw["ensemble_contributions"]
            else [],
            estimator=str(raw.get("estimator", "")),
            referral={t: float(v) for t, v in raw["referral"].items()},
        )


@dataclass
class AnswerModel:
    """``P(answer | class, migrant_status)`` of every indicator once asked, from training data.

    ``p[s, k, i, a]``: status level ``s`` (of ``migrant_status``, unknown last), class ``k``
    (:data:`models.interview.CLASSES`), indicator ``i`` (in ``indicators`` order), answer ``a``
    (:data:`ASKED_ANSWERS`). It is the predictive distribution of the questions not yet asked.
    ``settled_flip_chance`` is the level below which a recommendation is settled.
    """

    indicators: tuple[str, ...]
    p: np.ndarray
    settled_flip_chance: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "indicators": list(self.indicators),
            "p": self.p.tolist(),
            "settled_flip_chance": self.settled_flip_chance,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AnswerModel:
        return cls(
            indicators=tuple(raw["indicators"]),
            p=np.asarray(raw["p"], dtype=float),
            settled_flip_chance=float(raw["settled_flip_chance"]),
        )


@dataclass(frozen=True)
class OutcomeScores:
    """Scores of ``n`` cases for one outcome."""

    log_odds: np.ndarray
    probability: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    contributions: np.ndarray  # (n, n_fields)
    base_value: float
    band: np.ndarray  # band index into BANDS
    above_threshold: np.ndarray
    tier: np.ndarray  # referral tier index into models.referral.TIERS, for this outcome


class ScreeningModel:
    """Both outcomes' tables over the same feature fields; see the module docstring."""

    def __init__(
        self,
        *,
        fields: Sequence[str],
        outcomes: Mapping[str, OutcomeModel],
        answer_model: AnswerModel,
        dont_know_cap: float,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.fields = tuple(fields)
        self.outcomes = dict(outcomes)
        self.answer_model = answer_model
        self.dont_know_cap = float(dont_know_cap)
        self.metadata = dict(metadata or {})
        self.encoder = FieldEncoder(self.fields)
        levels = self.encoder.n_levels
        for name, outcome in self.outcomes.items():
            outcome.referral = check_thresholds(name, outcome.referral)
            for fid, n, table in zip(self.fields, levels, outcome.contributions, strict=True):
                if table.shape != (n,):
                    raise ValueError(BAD_SHAPE.format(outcome=name, field=fid, found=table.shape, expected=n))
            self._check_no_evidence(name, outcome.contributions)
            for member in range(len(outcome.ensemble_base_values)):
                self._check_no_evidence(name, [t[member] for t in outcome.ensemble_contributions])
        self._check_answer_model()
        # One matrix per outcome: row 0 is the model, rows 1.. the ensemble; columns are
        # (field, level) pairs, so a case's contributions are matrix[:, offsets + codes].
        self._offsets = np.concatenate([[0], np.cumsum(levels)[:-1]]).astype(np.int64)
        self._matrices: dict[str, np.ndarray] = {}
        self._bases: dict[str, np.ndarray] = {}
        for name, outcome in self.outcomes.items():
            rows = [np.concatenate(outcome.contributions)]
            bases = [outcome.base_value]
            if outcome.ensemble_contributions:
                rows.extend(np.concatenate(outcome.ensemble_contributions, axis=1))
                bases.extend(outcome.ensemble_base_values.tolist())
            self._matrices[name] = np.ascontiguousarray(np.vstack(rows))
            self._bases[name] = np.asarray(bases, dtype=float)
        # The ensembles of all outcomes stacked, grouped by their number of members ``m``:
        # one gather, one sum and one expit serve them all, and one sort each group.
        groups: dict[int, list[str]] = {}
        for name in self.outcomes:
            if self._matrices[name].shape[0] > 1:
                groups.setdefault(self._matrices[name].shape[0] - 1, []).append(name)
        self._groups = [(m, tuple(names), PercentileReads(m)) for m, names in groups.items()]
        stacked = [name for _, names, _ in self._groups for name in names]
        self._ensemble: np.ndarray | None = None
        self._ensemble_bases: np.ndarray | None = None
        self._nan_free = True
        if stacked:
            ensemble = np.ascontiguousarray(np.vstack([self._matrices[name][1:] for name in stacked]))
            member_bases = np.concatenate([self._bases[name][1:] for name in stacked])[:, None]
            self._ensemble, self._ensemble_bases = ensemble, member_bases
            # Finite tables whose sums cannot overflow give no NaN member to look for.
            self._nan_free = bool(
                np.isfinite(ensemble).all()
                and np.isfinite(member_bases).all()
                and np.abs(ensemble).sum(axis=1).max() + np.abs(member_bases).max() < 1e300
            )
        self._block_rows = max(
            1, _GATHER_VALUES // max(1, sum(m * len(names) for m, names, _ in self._groups) * len(self.fields))
        )

    def _check_no_evidence(self, name: str, tables: Sequence[np.ndarray]) -> None:
        """Non-answers contribute exactly 0; don't-know answers stay within the cap."""
        dont_know = []
        for f, table in zip(self.encoder.fields, tables, strict=True):
            silent = [f.reference, DECLINED] if f.kind == "indicator" else [f.reference]
            for level in silent:
                value = float(table[f.levels.index(level)])
                if value != 0.0:
                    raise ValueError(NOT_ZERO.format(outcome=name, field=f.id, level=level, value=value))
            if f.kind == "indicator":
                dont_know.append(float(table[f.levels.index(DONT_KNOW)]))
        total = capped_total(np.asarray(dont_know))
        if total > self.dont_know_cap * (1 + 1e-9):
            raise ValueError(OVER_CAP.format(outcome=name, total=total, cap=self.dont_know_cap))

    def _check_answer_model(self) -> None:
        am = self.answer_model
        q = load_questionnaire()
        n_status = len(q.field(STATUS_FIELD).levels)
        expected = (n_status, len(CLASSES), len(am.indicators), len(ASKED_ANSWERS))
        if am.p.shape != expected:
            raise ValueError(BAD_ANSWER_MODEL.format(problem=f"shape {am.p.shape}, expected {expected}"))
        if not np.allclose(am.p.sum(axis=-1), 1.0) or (am.p < 0).any():
            raise ValueError(BAD_ANSWER_MODEL.format(problem="rows are not probability distributions"))
        missing = sorted(set(am.indicators) - set(self.fields))
        if missing:
            raise ValueError(BAD_ANSWER_MODEL.format(problem=f"indicators {missing} are not model fields"))

    # ------------------------------------------------------------------ scoring
    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """Level codes of one case given as ``{field: raw value}`` (others are ignored)."""
        return self.encoder.encode_case(values)

    def score_codes(self, codes: np.ndarray) -> dict[str, OutcomeScores]:
        """Scores of a ``(n, n_fields)`` array of level codes (or one case of shape ``(n_fields,)``)."""
        # Row-major whatever the caller's layout (a DataFrame's to_numpy() is column-major): every sum
        # over fields is then numpy's pairwise sum of one contiguous row, so a case scores the same alone
        # or in any batch (logged screenings are recomputed and compared exactly).
        codes = np.ascontiguousarray(np.atleast_2d(np.asarray(codes, dtype=np.int64)))
        columns = codes + self._offsets
        # A code out of range raises IndexError here, before the members are gathered.
        contributions = {name: self._matrices[name][0][columns] for name in self.outcomes}
        bounds = self._member_bounds(columns)
        out = {}
        for name, outcome in self.outcomes.items():
            log_odds = outcome.base_value + contributions[name].sum(axis=1)
            probability = expit(log_odds)
            if name in bounds:
                lower, upper = bounds[name]
                lower, upper = np.minimum(lower, probability), np.maximum(upper, probability)
            else:
                lower = upper = probability
            out[name] = OutcomeScores(
                log_odds=log_odds,
                probability=probability,
                lower=lower,
                upper=upper,
                contributions=contributions[name],
                base_value=outcome.base_value,
                band=outcome.bands(probability),
                above_threshold=probability >= outcome.threshold,
                tier=outcome_tiers(probability, outcome.referral),
            )
        return out

    def _member_bounds(self, columns: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``np.percentile(members, INTERVAL, axis=0)`` of each outcome with an ensemble, where
        ``members`` are its members' probabilities of every case (of ``columns``, in range).

        The members of all outcomes are gathered, summed and turned into probabilities
        together, a block of cases at a time; each outcome's are then sorted, and
        :class:`PercentileReads` reads the percentiles off them as numpy would.
        """
        if self._ensemble is None or self._ensemble_bases is None:
            return {}
        n, step = columns.shape[0], self._block_rows
        whole = n <= step
        results = [np.empty((len(names), len(INTERVAL), n)) for _, names, _ in self._groups]
        # np.take keeps the gathered rows C-ordered: every sum over fields is numpy's pairwise
        # sum of one contiguous row, whatever the batch size (as in serving). The codes are in
        # range, so mode "wrap" takes what mode "raise" would, into ``gathered`` unbuffered.
        gathered = None if whole else np.empty((self._ensemble.shape[0], step, columns.shape[1]))
        for first in range(0, n, step) if not whole else (0,):
            block = columns if whole else columns[first : first + step]
            rows = block.shape[0]
            into = gathered if rows == step else None
            sums = self._ensemble.take(block, axis=1, mode="wrap", out=into).sum(axis=2)
            members = expit(np.add(sums, self._ensemble_bases, out=sums))
            start = 0
            for (m, names, interval), result in zip(self._groups, results, strict=True):
                ordered = members[start : start + m * len(names)].reshape(len(names), m, rows)
                start += m * len(names)
                ordered.sort(axis=1)
                if rows == 1:
                    interval.read_one(ordered, result[:, :, first : first + 1])
                else:
                    interval.read(ordered, result[:, :, first : first + rows], nan_free=self._nan_free)
        return {
            name: (result[k, 0], result[k, 1])
            for (_, names, _), result in zip(self._groups, results, strict=True)
            for k, name in enumerate(names)
        }

    def with_referral(
        self, thresholds: Mapping[str, Mapping[str, float]], *, rule: Mapping[str, Any] | None = None
    ) -> ScreeningModel:
        """This model with each outcome's referral-tier thresholds set; ``rule`` (how they were
        chosen) goes to ``metadata["referral"]``."""
        outcomes = {
            name: dataclasses.replace(o, referral={t: float(thresholds[name][t]) for t in THRESHOLD_TIERS})
            for name, o in self.outcomes.items()
        }
        metadata = {**self.metadata, **({"referral": dict(rule)} if rule is not None else {})}
        return ScreeningModel(
            fields=self.fields,
            outcomes=outcomes,
            answer_model=self.answer_model,
            dont_know_cap=self.dont_know_cap,
            metadata=metadata,
        )

    def predict_proba(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        return {name: s.probability for name, s in self.score_codes(codes).items()}

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fields": list(self.fields),
            "levels": {f.id: list(f.levels) for f in self.encoder.fields},
            "outcomes": {name: o.to_dict() for name, o in self.outcomes.items()},
            "answer_model": self.answer_model.to_dict(),
            "dont_know_cap": self.dont_know_cap,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ScreeningModel:
        found = raw.get("format")
        if found != FORMAT:
            older = isinstance(found, str) and found.startswith(FORMAT.rsplit("/", 1)[0] + "/")
            raise ValueError((OLD_FORMAT if older else BAD_FORMAT).format(found=found, expected=FORMAT))
        model = cls(
            fields=raw["fields"],
            outcomes={name: OutcomeModel.from_dict(o) for name, o in raw["outcomes"].items()},
            answer_model=AnswerModel.from_dict(raw["answer_model"]),
            dont_know_cap=float(raw["dont_know_cap"]),
            metadata=raw.get("metadata", {}),
        )
        trained = model.metadata.get("questionnaire_version")
        current = load_questionnaire().version
        if trained is not None and str(trained) != current:
            raise ValueError(OTHER_QUESTIONNAIRE.format(trained=trained, current=current))
        declared = {f.id: list(f.levels) for f in model.encoder.fields}
        if raw.get("levels") and raw["levels"] != declared:
            raise ValueError(
                "the model was trained on other questionnaire levels than this Tarozu declares; retrain it"
            )
        return model

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ScreeningModel:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"model file {Path(path).name} is corrupt: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(BAD_FORMAT.format(found=type(raw).__name__, expected=FORMAT))
        try:
            return cls.from_dict(raw)
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(
                f"model file {Path(path).name} is not a complete Tarozu screening model: {exc!r}"
            ) from None

    @property
    def outcome_names(self) -> tuple[str, ...]:
        return tuple(o for o in OUTCOMES if o in self.outcomes)
