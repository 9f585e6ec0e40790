"""The deployable screening model: additive tables for both outcomes, scored without pandas.

A :class:`ScreeningModel` is what training registers and what the API and the MLflow
pyfunc load. Each outcome (labour, sexual exploitation) is an additive model compiled to
a table of calibrated log-odds contributions per field and level, plus the same tables of
a bootstrap ensemble for the uncertainty interval. Scoring a case is a gather and a sum;
its explanation is the gathered row itself, so ``base_value + sum(contributions)`` equals
the log-odds of the probability by construction. It serialises to JSON (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.encoding import FieldEncoder
from models.logodds import expit
from models.questionnaire import OUTCOMES, UNKNOWN, load_questionnaire

FORMAT = "tarozu-screening-model/1"
BANDS: tuple[str, ...] = ("low", "medium", "high")
BAD_FORMAT = "not a Tarozu screening model (format {found!r}, expected {expected!r})"
BAD_SHAPE = "outcome {outcome!r}: field {field!r} has {found} contributions for {expected} levels"
INTERVAL = (2.5, 97.5)


@dataclass
class OutcomeModel:
    """One outcome's calibrated additive model as tables.

    ``contributions[j][k]`` is the contribution of level ``k`` of field ``j``;
    ``ensemble_contributions[j]`` has one such row per bootstrap member.
    """

    base_value: float
    contributions: list[np.ndarray]
    threshold: float
    high_threshold: float
    ensemble_base_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ensemble_contributions: list[np.ndarray] = field(default_factory=list)
    estimator: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_value": self.base_value,
            "contributions": [c.tolist() for c in self.contributions],
            "threshold": self.threshold,
            "high_threshold": self.high_threshold,
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


class ScreeningModel:
    """Both outcomes' tables over the same feature fields; see the module docstring."""

    def __init__(
        self,
        *,
        fields: Sequence[str],
        outcomes: Mapping[str, OutcomeModel],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.fields = tuple(fields)
        self.outcomes = dict(outcomes)
        self.metadata = dict(metadata or {})
        self.encoder = FieldEncoder(self.fields)
        levels = self.encoder.n_levels
        for name, outcome in self.outcomes.items():
            for fid, n, table in zip(self.fields, levels, outcome.contributions, strict=True):
                if table.shape != (n,):
                    raise ValueError(BAD_SHAPE.format(outcome=name, field=fid, found=table.shape, expected=n))
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

    # ------------------------------------------------------------------ scoring
    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """Level codes of one case given as ``{field: raw value}`` (others are ignored)."""
        return self.encoder.encode_case(values)

    def score_codes(self, codes: np.ndarray) -> dict[str, OutcomeScores]:
        """Scores of a ``(n, n_fields)`` array of level codes (or one case of shape ``(n_fields,)``)."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        columns = codes + self._offsets
        out = {}
        for name, outcome in self.outcomes.items():
            matrix = self._matrices[name]
            contributions = matrix[0][columns]
            log_odds = outcome.base_value + contributions.sum(axis=1)
            probability = expit(log_odds)
            if matrix.shape[0] > 1:
                # np.take keeps the gathered rows C-ordered: every sum over fields is numpy's
                # pairwise sum of one contiguous row, whatever the batch size (as in serving).
                members = expit(self._bases[name][1:, None] + np.take(matrix[1:], columns, axis=1).sum(axis=2))
                lower, upper = np.percentile(members, INTERVAL, axis=0)
                lower, upper = np.minimum(lower, probability), np.maximum(upper, probability)
            else:
                lower = upper = probability
            band = (probability >= outcome.threshold).astype(np.int64) + (probability >= outcome.high_threshold)
            out[name] = OutcomeScores(
                log_odds=log_odds,
                probability=probability,
                lower=lower,
                upper=upper,
                contributions=contributions,
                base_value=outcome.base_value,
                band=band,
                above_threshold=probability >= outcome.threshold,
            )
        return out

    def predict_proba(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        return {name: s.probability for name, s in self.score_codes(codes).items()}

    def level_delta(self, outcome: str, field_index: int, from_code: int, to_code: int) -> float:
        """Change of the log-odds of ``outcome`` if one field changed level."""
        table = self.outcomes[outcome].contributions[field_index]
        return float(table[to_code] - table[from_code])

    def unanswered_impact(self, codes: np.ndarray, *, top: int = 5) -> list[dict[str, Any]]:
        """Unanswered indicators whose answer would move the score most.

        For each indicator answered ``unknown``, the probability of each outcome if the
        answer were ``yes`` and if it were ``no``, ranked by the largest change in log-odds.
        """
        q = load_questionnaire()
        indicator_ids = set(q.indicator_ids)
        yes, no, unknown = (q.indicators[0].levels.index(a) for a in ("yes", "no", UNKNOWN))
        scores = self.score_codes(codes)
        rows = []
        for j, fid in enumerate(self.fields):
            if fid not in indicator_ids or int(codes[j]) != unknown:
                continue
            item: dict[str, Any] = {"indicator": fid, "if_yes": {}, "if_no": {}}
            impact = 0.0
            for name in self.outcomes:
                z = float(scores[name].log_odds[0])
                d_yes = self.level_delta(name, j, unknown, yes)
                d_no = self.level_delta(name, j, unknown, no)
                item["if_yes"][name] = float(expit(z + d_yes))
                item["if_no"][name] = float(expit(z + d_no))
                impact = max(impact, abs(d_yes), abs(d_no))
            item["impact"] = impact
            rows.append(item)
        rows.sort(key=lambda r: -r["impact"])
        return rows[:top]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fields": list(self.fields),
            "levels": {f.id: list(f.levels) for f in self.encoder.fields},
            "outcomes": {name: o.to_dict() for name, o in self.outcomes.items()},
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ScreeningModel:
        if raw.get("format") != FORMAT:
            raise ValueError(BAD_FORMAT.format(found=raw.get("format"), expected=FORMAT))
        model = cls(
            fields=raw["fields"],
            outcomes={name: OutcomeModel.from_dict(o) for name, o in raw["outcomes"].items()},
            metadata=raw.get("metadata", {}),
        )
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


def describe_case(
    model: ScreeningModel,
    codes: np.ndarray,
    *,
    lang: str = "en",
    top_unanswered: int = 5,
) -> dict[str, Any]:
    """The screener-facing result of one case: scores, bands, reasons, recommendation.

    Every feature field appears in each outcome's explanation, sorted by the size of its
    contribution; ``base_value + sum(contribution) == log_odds`` exactly.
    """
    texts = load_questionnaire().texts(lang)
    messages = texts.raw["messages"]
    codes = np.asarray(codes, dtype=np.int64)
    scores = model.score_codes(codes)
    levels = [f.levels for f in model.encoder.fields]
    outcomes: dict[str, Any] = {}
    refer = False
    for name in model.outcome_names:
        s = scores[name]
        outcome = model.outcomes[name]
        contributions = s.contributions[0]
        order = np.argsort(-np.abs(contributions), kind="stable")
        reasons = []
        for j in order:
            value = float(contributions[j])
            fid = model.fields[j]
            level = levels[j][codes[j]]
            direction = "raises" if value > 0 else "lowers" if value < 0 else "none"
            reasons.append(
                {
                    "field": fid,
                    "answer": level,
                    "answer_text": texts.value(fid, level),
                    "contribution": value,
                    "direction": direction,
                    "reason": texts.reason(fid),
                }
            )
        band = BANDS[int(s.band[0])]
        above = bool(s.above_threshold[0])
        refer = refer or above
        outcomes[name] = {
            "label": messages["outcomes"][name],
            "probability": float(s.probability[0]),
            "interval": [float(s.lower[0]), float(s.upper[0])],
            "band": band,
            "band_label": messages["bands"][band],
            "above_threshold": above,
            "threshold": outcome.threshold,
            "explanation": {
                "base_value": s.base_value,
                "log_odds": float(s.log_odds[0]),
                "contributions": reasons,
            },
        }
    unanswered = [
        {**item, "question": texts.question(item["indicator"])}
        for item in model.unanswered_impact(codes, top=top_unanswered)
    ]
    return {
        "outcomes": outcomes,
        "recommendation": {
            "refer": refer,
            "text": " ".join(str(messages["refer" if refer else "no_referral"]).split()),
        },
        "unanswered": unanswered,
        "caveat": " ".join(str(messages["caveat"]).split()),
    }


def flat_predictions(model: ScreeningModel, codes: np.ndarray, *, top_reasons: int = 3) -> list[dict[str, Any]]:
    """One flat record per case: what the MLflow pyfunc and ``/invocations`` return.

    Columns per outcome ``o``: ``o_probability``, ``o_lower``, ``o_upper``, ``o_band``,
    ``o_above_threshold``, ``o_base_value``, ``o_log_odds`` and ``o_top_reasons`` (the
    fields with the largest contributions, as ``field=answer:+contribution`` strings
    joined by ``;``), then ``refer``.
    """
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    scores = model.score_codes(codes)
    levels = [f.levels for f in model.encoder.fields]
    records: list[dict[str, Any]] = [{} for _ in range(codes.shape[0])]
    refer = np.zeros(codes.shape[0], dtype=bool)
    for name in model.outcome_names:
        s = scores[name]
        refer |= s.above_threshold
        top = np.argsort(-np.abs(s.contributions), axis=1, kind="stable")[:, :top_reasons]
        for i, record in enumerate(records):
            record[f"{name}_probability"] = float(s.probability[i])
            record[f"{name}_lower"] = float(s.lower[i])
            record[f"{name}_upper"] = float(s.upper[i])
            record[f"{name}_band"] = BANDS[int(s.band[i])]
            record[f"{name}_above_threshold"] = bool(s.above_threshold[i])
            record[f"{name}_base_value"] = float(s.base_value)
            record[f"{name}_log_odds"] = float(s.log_odds[i])
            record[f"{name}_top_reasons"] = ";".join(
                f"{model.fields[j]}={levels[j][codes[i, j]]}:{s.contributions[i, j]:+.4f}" for j in top[i]
            )
    for i, record in enumerate(records):
        record["refer"] = bool(refer[i])
    return records
