"""Bulk scoring: the engine's flat records of many cases at once, as columns.

:meth:`models.engine.ScreeningEngine.flat` of :meth:`~models.engine.ScreeningEngine.assess_many`
builds one Python object per case and outcome; for a register of a million cases that is
where the time goes. :func:`flat_columns` gives exactly the same values, column by column:

- scores, intervals, bands and tiers come from one vectorised
  :meth:`~models.screening.ScreeningModel.score_codes` per chunk of rows;
- the top reasons are looked up, not formatted per case: a field's contribution at a level
  is a number of the model, so each ``field=answer:+contribution`` text is made once per
  model and joined per case;
- whether a case is settled (and so its final ``referral_tier``), its flip chance and next
  questions come from :func:`models.interview.outlook`, called exactly as the engine calls it,
  for the cases with questions not yet asked (once per distinct case); a case with every
  question asked is settled with nothing left to ask, for every such case at once.

Bulk scoring is not screening: there is no screener's assessment and no danger question, so
every case is scored as the engine scores one with no interview recorded (as the MLflow
pyfunc and ``/invocations`` do). ``tests/models/test_bulk.py`` checks the columns against
the engine's records case by case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from models.engine import TOP_NEXT, ScreeningEngine
from models.interview import class_posterior, outlook
from models.logodds import expit
from models.referral import REFERRAL_TIERS, TIERS
from models.screening import BANDS

CHUNK_ROWS = 50_000
"""Rows scored at once: bounds the memory of the ensemble's intervals (members x rows x fields)."""
TOP_REASONS = 3


def flat_names(engine: ScreeningEngine) -> list[str]:
    """The columns of :func:`flat_columns`, in the order of :meth:`ScreeningEngine.flat`."""
    names: list[str] = []
    for o in engine.outcome_names:
        names += [
            f"{o}_{c}" for c in ("probability", "lower", "upper", "band", "above_threshold", "base_value", "log_odds")
        ]
        names.append(f"{o}_top_reasons")
    return [*names, "status", "refer", "referral_tier", "leaning_tier", "settled", "flip_chance", "next_questions"]


def encode_frame(engine: ScreeningEngine, frame: pd.DataFrame) -> np.ndarray:
    """Level codes of every row of ``frame``, as :meth:`ScreeningEngine.encode` gives them.

    Columns are field ids (others are ignored; an absent field is not asked). A cell that is
    a level is coded by a vectorised lookup; anything else (a number of months, an empty or
    missing cell) goes through the field's own ``normalise``, once per distinct value, which
    raises :class:`QuestionnaireError` for a value the field does not take.
    """
    n = len(frame)
    codes = np.empty((n, len(engine.fields)), dtype=np.int64)
    for j, (fid, field) in enumerate(zip(engine.fields, engine.field_defs, strict=True)):
        table = {level: k for k, level in enumerate(field.levels)}
        if fid not in frame.columns:
            codes[:, j] = table[field.normalise(None)]
            continue
        series = frame[fid]
        column = pd.Index(field.levels).get_indexer(pd.Index(series)).astype(np.int64)
        other = np.flatnonzero(column < 0)
        if other.size:
            values = series.iloc[other]
            mapped = {v: table[field.normalise(_plain(v))] for v in pd.unique(values) if _plain(v) is not None}
            mapped_na = table[field.normalise(None)]
            column[other] = [mapped_na if _plain(v) is None else mapped[v] for v in values]
        codes[:, j] = column
    return codes


def _plain(value: Any) -> Any:
    """A cell as the pyfunc hands it to the engine: missing (None, NaN, NA) as None."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if isinstance(value, np.generic) else value


class BulkScorer:
    """An engine's flat records as columns; see the module docstring."""

    def __init__(self, engine: ScreeningEngine, *, top_reasons: int = TOP_REASONS) -> None:
        self.engine = engine
        self.top_reasons = top_reasons
        model = engine.model
        offsets = model._offsets
        n_columns = int(offsets[-1]) + len(engine.field_defs[-1].levels)
        # silent[col]: the level of column col is never evidence (or it is the status field)
        self._silent = np.zeros(n_columns, dtype=bool)
        self._tokens: dict[str, np.ndarray] = {}
        for j, field in enumerate(engine.field_defs):
            for c, level in enumerate(field.levels):
                self._silent[offsets[j] + c] = j == engine._status or level in engine._silent[j]
        for name in engine.outcome_names:
            table = model._matrices[name][0]
            tokens = np.empty(n_columns, dtype=object)
            for j, (fid, field) in enumerate(zip(engine.fields, engine.field_defs, strict=True)):
                for c, level in enumerate(field.levels):
                    col = offsets[j] + c
                    tokens[col] = f"{fid}={level}:{float(table[col]):+.4f}"
            self._tokens[name] = tokens
        self._offsets = offsets
        self._status_shift = {
            name: np.asarray(model.outcomes[name].contributions[engine._status], dtype=float)
            if engine._status is not None
            else np.zeros(len(engine._status_levels))
            for name in engine.outcome_names
        }

    def score(
        self, codes: np.ndarray, *, progress: Callable[[int], None] | None = None, chunk_rows: int = CHUNK_ROWS
    ) -> pd.DataFrame:
        """The flat records of ``codes`` (``(n, n_fields)``) as a DataFrame; ``progress(rows)`` after each chunk."""
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        parts = []
        for start in range(0, codes.shape[0], chunk_rows):
            part = codes[start : start + chunk_rows]
            parts.append(self._chunk(part))
            if progress is not None:
                progress(part.shape[0])
        if not parts:
            return pd.DataFrame({name: pd.Series(dtype=object) for name in flat_names(self.engine)})
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def _chunk(self, codes: np.ndarray) -> pd.DataFrame:
        e = self.engine
        n = codes.shape[0]
        scores = e.model.score_codes(codes)
        status_code = (
            codes[:, e._status] if e._status is not None else np.full(n, len(e._status_levels) - 1, dtype=np.int64)
        )
        applicable = e._applicable[status_code]  # (n, I)
        answers = codes[:, e._indicators]
        unasked = applicable & (answers == e._not_asked)
        answered_yes = np.any(applicable & (answers == e._yes), axis=1)
        columns = codes + self._offsets
        silent = self._silent[columns]  # (n, F)
        out: dict[str, Any] = {}
        bands = np.array(BANDS, dtype=object)
        for name in e.outcome_names:
            s = scores[name]
            band = np.where(answered_yes, s.band, np.minimum(s.band, BANDS.index("medium")))
            out[f"{name}_probability"] = s.probability
            out[f"{name}_lower"] = s.lower
            out[f"{name}_upper"] = s.upper
            out[f"{name}_band"] = bands[band]
            out[f"{name}_above_threshold"] = s.above_threshold
            out[f"{name}_base_value"] = float(s.base_value) + self._status_shift[name][status_code]
            out[f"{name}_log_odds"] = s.log_odds
            out[f"{name}_top_reasons"] = self._reasons(name, s.contributions, columns, silent)
        model_tier = np.max(np.vstack([scores[name].tier for name in e.outcome_names]), axis=0)
        flip = np.zeros(n)
        settled = np.ones(n, dtype=bool)
        next_questions = np.full(n, "", dtype=object)
        # The outlook of every case with questions left, as the engine computes it (once per distinct case).
        todo = np.flatnonzero(unasked.any(axis=1))
        seen: dict[bytes, tuple[float, bool, str]] = {}
        log_odds = np.column_stack([scores[name].log_odds for name in e.outcome_names])
        names = list(e.outcome_names)
        for i in todo.tolist():
            key = codes[i].tobytes()
            found = seen.get(key)
            if found is None:
                found = seen[key] = self._outlook(codes[i], int(status_code[i]), unasked[i], log_odds[i], names)
            flip[i], settled[i], next_questions[i] = found
        eligible = answered_yes  # no screener's assessment and no danger answer in bulk
        referring = np.isin(model_tier, [TIERS.index(t) for t in REFERRAL_TIERS])
        tiers = np.array(TIERS, dtype=object)
        nrm = TIERS.index("nrm")
        leaning = np.where(eligible | (model_tier != nrm), model_tier, TIERS.index("support"))
        refer = settled & referring & eligible
        no_referral = settled & ~referring
        status = np.where(refer, "refer", np.where(no_referral, "no_referral", "ask_more")).astype(object)
        tier = np.where(refer | no_referral, tiers[model_tier], None)
        out["status"] = status
        out["refer"] = refer
        out["referral_tier"] = pd.Series(tier, dtype=object)  # None while not settled, not NaN
        out["leaning_tier"] = tiers[leaning]
        out["settled"] = settled
        out["flip_chance"] = flip
        out["next_questions"] = next_questions
        return pd.DataFrame(out, columns=flat_names(e))

    def _reasons(self, name: str, contributions: np.ndarray, columns: np.ndarray, silent: np.ndarray) -> np.ndarray:
        """``field=answer:+contribution`` of the largest evidence, joined by ``;`` (as the engine's sort)."""
        k = min(self.top_reasons, contributions.shape[1])
        key = np.where(silent, np.inf, -np.abs(contributions))
        top = np.argsort(key, axis=1, kind="stable")[:, :k]  # stable: ties keep the field order
        rows = np.arange(contributions.shape[0])[:, None]
        valid = ~silent[rows, top]
        tokens = self._tokens[name][columns[rows, top]]
        text = np.where(valid[:, 0], tokens[:, 0], "").astype(object)
        for r in range(1, k):
            text = text + np.where(valid[:, r], ";" + tokens[:, r].astype(object), "").astype(object)
        return text

    def _outlook(
        self, codes: np.ndarray, status_code: int, unasked_mask: np.ndarray, log_odds: np.ndarray, names: list[str]
    ) -> tuple[float, bool, str]:
        e = self.engine
        unasked = np.flatnonzero(unasked_mask)
        lo = np.array([float(v) for v in log_odds])
        by_outcome = dict(zip(names, expit(lo).tolist(), strict=True))
        class_p = class_posterior(np.array([by_outcome.get("labour", 0.0), by_outcome.get("sexual", 0.0)]))
        view = outlook(
            log_odds=lo,
            cutoffs=e._cutoffs,
            tables=e._answer_tables[:, unasked, :],
            answer_p=e._answer_p[status_code][:, unasked, :],
            class_p=class_p,
            level=e._level,
            seed=[int(c) for c in codes],
        )
        nxt = ";".join(e.fields[e._indicators[unasked[p]]] for p in view.order[:TOP_NEXT])
        return view.flip_chance, bool(view.settled), nxt


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of :meth:`BulkScorer.score` as plain records (what :meth:`ScreeningEngine.flat` returns)."""
    out = []
    for record in frame.to_dict(orient="records"):
        out.append({str(k): _python(v) for k, v in record.items()})
    return out


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
