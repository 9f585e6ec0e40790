"""Bulk scoring: the engine's flat records of many cases at once, as columns.

:meth:`models.engine.ScreeningEngine.flat` of :meth:`~models.engine.ScreeningEngine.assess_many`
builds one Python object per case and outcome; for a register of a million cases that is
where the time goes. :class:`BulkScorer` gives exactly the same values, column by column:

- scores, intervals, bands and tiers are :meth:`~models.screening.ScreeningModel.score_codes`'s,
  bit for bit, computed without its ``(members, rows, fields)`` gather: every member's sum is
  added in numpy's own pairwise order from per-field tables (the first fields of each running
  sum from one table of their partial sums), and the interval turns only the members at each
  end into probabilities;
- the top reasons are looked up, not sorted or formatted per case: a field's contribution at a
  level is a number of the model, so the engine's stable sort is one ranking of all (field,
  level) columns made once per model, a case's top reasons are its three best-ranked columns,
  and each distinct ``field=answer:+contribution;...`` text is made once;
- texts (bands, tiers, statuses, reasons) come out as categories (:class:`FlatColumns`), so a
  writer can keep them dictionary-encoded until the end;
- whether a case is settled (and so its final ``referral_tier``), its flip chance and next
  questions are the engine's outlook (the current rule, :class:`models.interview.CommonDraws`),
  once per distinct case with questions not yet asked, many cases at once; a case with every question asked is
  settled with nothing left to ask, for every such case at once.

Bulk scoring is not screening: there is no screener's assessment and no danger question, so
every case is scored as the engine scores one with no interview recorded (as the MLflow
pyfunc and ``/invocations`` do). ``tests/models/test_bulk.py`` checks the columns against
the engine's records case by case.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from models.engine import STATUSES, TOP_NEXT, ScreeningEngine
from models.logodds import expit
from models.questionnaire import Field
from models.referral import REFERRAL_TIERS, TIERS, outcome_tiers
from models.screening import BANDS, INTERVAL, OutcomeScores, PercentileReads

if TYPE_CHECKING:  # imported where it is used: a server that never scores in bulk starts without it
    import pandas as pd

CHUNK_ROWS = 50_000
"""Rows between two progress reports (and at most a worker process's share at a time)."""
AHEAD_ROWS = 1_000_000
"""Rows of codes handed to worker processes and not yet scored, at most (about 60 MB, a byte a field)."""
_BLOCK_ROWS = 16_384
"""Rows scored at once by array operations."""
_SUM_ROWS = 256
"""Rows whose members' sums are added at once: every temporary stays small (and in the cache)."""
_PAIRWISE_BLOCK = 128
"""numpy's pairwise summation adds up to this many numbers with eight running sums, then halves."""
_PREFIX_ROWS = 4096
"""Largest table of a running sum's first fields (rows of every member's partial sums)."""
TOP_REASONS = 3
OPTIONAL = frozenset({"referral_tier"})
"""Text columns that may be missing (None): the final tier of a case not settled."""
_UNASKED, _YES = 1, 2
_SAFE = 2.0**-30
"""Relative margin under which two members' probabilities count as possibly out of order (see _interval)."""


class WorkerStoppedError(RuntimeError):
    """A worker process of :meth:`BulkScorer.columns` stopped (killed, out of memory, or failed to start)."""


class FlatColumns:
    """The flat records of many cases, column by column: numbers as arrays, texts as categories.

    ``texts[name]`` is ``(categories, codes)``: the column's value in row ``i`` is
    ``categories[codes[i]]`` (None for a missing value), so a text repeated over a million
    rows (a band, a tier, a set of top reasons) is one string.
    """

    def __init__(
        self,
        names: list[str],
        rows: int,
        numbers: dict[str, np.ndarray],
        texts: dict[str, tuple[list[str | None], np.ndarray]],
    ) -> None:
        self.names = names
        self.rows = rows
        self.numbers = numbers
        self.texts = texts

    def frame(self) -> pd.DataFrame:
        """As :meth:`ScreeningEngine.flat` records in a DataFrame: texts as Python strings (object)."""
        import pandas as pd

        if self.rows == 0:
            return pd.DataFrame({name: pd.Series(dtype=object) for name in self.names})
        out: dict[str, Any] = {}
        for name in self.names:
            if name in self.texts:
                categories, codes = self.texts[name]
                values = np.empty(len(categories), dtype=object)
                values[:] = categories
                # text columns as pandas makes them of Python strings; an optional one keeps None (not NaN)
                out[name] = pd.Series(values[codes], dtype=object) if name in OPTIONAL else values[codes]
            else:
                out[name] = self.numbers[name]
        return pd.DataFrame(out, columns=self.names)

    @classmethod
    def joined(cls, parts: list[FlatColumns]) -> FlatColumns:
        """The rows of ``parts`` (at least one, with the same names), one after another."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        return cls(
            first.names,
            sum(p.rows for p in parts),
            {name: np.concatenate([p.numbers[name] for p in parts]) for name in first.numbers},
            {name: _concat_categories([p.texts[name] for p in parts]) for name in first.texts},
        )


def _concat_categories(parts: list[tuple[list[str | None], np.ndarray]]) -> tuple[list[str | None], np.ndarray]:
    """One ``(categories, codes)`` of several, each category once."""
    if len(parts) == 1:
        return parts[0]
    index: dict[str | None, int] = {}
    codes = []
    for categories, part in parts:
        remap = np.array([index.setdefault(c, len(index)) for c in categories], dtype=np.int64)
        codes.append(remap[part])
    return list(index), np.concatenate(codes)


def _interval(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.percentile(expit(members.T), INTERVAL, axis=0)`` of ``(n, m)`` member log-odds, bit for bit.

    numpy's linear percentile reads two neighbours of the sorted probabilities for each
    percentile (:class:`models.screening.PercentileReads` says which, and how it weighs them). Only
    those members of the sorted log-odds are turned into probabilities, and the one beyond each
    pair on either side is checked too: a row where it is within a hair of the pair (where
    rounding in ``expit`` could swap two members' order) is computed the long way. Any number of
    members: of the configured 50, numpy reads the 2nd and 3rd smallest and the 48th and 49th.
    """
    n, m = members.shape
    reads = PercentileReads(m).reads
    if m < 4 or any(i < 0 or j != i + 1 for i, j, *_ in reads):
        lower, upper = np.percentile(expit(members.T), INTERVAL, axis=0)
        return lower, upper
    wanted = sorted({k for i, j, *_ in reads for k in (i - 1, i, j, j + 1) if 0 <= k < m})
    at = {k: c for c, k in enumerate(wanted)}
    p = expit(np.sort(members, axis=1)[:, wanted])  # numpy's sort of short rows beats a partition
    close = np.zeros(n, dtype=bool)
    found = []
    for i, j, t, rest, from_above in reads:
        a, b = np.minimum(p[:, at[i]], p[:, at[j]]), np.maximum(p[:, at[i]], p[:, at[j]])
        found.append(b - (b - a) * rest if from_above else a + (b - a) * t)  # numpy's _lerp
        if i > 0:  # the member below the pair
            close |= p[:, at[i - 1]] * (1 + _SAFE) >= a
        if j < m - 1:  # the member above it
            close |= p[:, at[j + 1]] * (1 - _SAFE) <= b
    lower, upper = found
    if close.any():
        exact = np.percentile(expit(members[close].T), INTERVAL, axis=0)
        lower[close], upper[close] = exact[0], exact[1]
    return lower, upper


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
        if fid not in frame.columns:
            codes[:, j] = field.levels.index(field.normalise(None))
            continue
        codes[:, j] = encode_values(field, frame[fid])
    return codes


def encode_values(field: Field, series: pd.Series) -> np.ndarray:
    """Level codes of the values of one field (see :func:`encode_frame`); give it a column's
    distinct values, and index the result with the column's codes of them, to encode a
    column of a million rows by as many lookups as it has distinct values."""
    import pandas as pd

    table = {level: k for k, level in enumerate(field.levels)}
    column = pd.Index(field.levels).get_indexer(pd.Index(series)).astype(np.int64)
    other = np.flatnonzero(column < 0)
    if other.size:
        values = series.iloc[other]
        mapped = {v: table[field.normalise(_plain(v))] for v in pd.unique(values) if _plain(v) is not None}
        mapped_na = table[field.normalise(None)]
        column[other] = [mapped_na if _plain(v) is None else mapped[v] for v in values]
    return column


def _plain(value: Any) -> Any:
    """A cell as the pyfunc hands it to the engine: missing (None, NaN, NA) as None."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if isinstance(value, np.generic) else value


class BulkScorer:
    """An engine's flat records as columns; see the module docstring.

    ``blas_threads`` is how many BLAS threads the outlooks' products use while they run (1: they are
    small, and threads would only wait on each other). ``None`` leaves the process's setting alone,
    as a server that set it once must: changing it while other threads run BLAS is not safe.
    """

    def __init__(
        self, engine: ScreeningEngine, *, top_reasons: int = TOP_REASONS, blas_threads: int | None = 1
    ) -> None:
        self.engine = engine
        self.top_reasons = top_reasons
        self.blas_threads = blas_threads
        model = engine.model
        offsets = model._offsets
        n_columns = int(offsets[-1]) + len(engine.field_defs[-1].levels)
        self._offsets = offsets
        # silent[col]: the level of column col is never evidence (or it is the status field)
        self._silent = np.zeros(n_columns, dtype=bool)
        field_of = np.zeros(n_columns, dtype=np.int64)
        for j, field in enumerate(engine.field_defs):
            for c, level in enumerate(field.levels):
                self._silent[offsets[j] + c] = j == engine._status or level in engine._silent[j]
                field_of[offsets[j] + c] = j
        self._n_evidence = int((~self._silent).sum())
        # flags[s, col]: to a person of status level s, the level of column col is "not asked" of a
        # question put to them (_UNASKED) or its "yes" (_YES)
        self._flags = np.zeros((len(engine._status_levels), n_columns), dtype=np.uint8)
        for i, j in enumerate(engine._indicators.tolist()):
            put = engine._applicable[:, i]
            self._flags[put, offsets[j] + engine._not_asked[i]] |= _UNASKED
            self._flags[put, offsets[j] + engine._yes[i]] |= _YES
        # The reasons of a case are its columns in the order of the engine's stable sort (largest
        # contribution first, ties in field order, never-evidence last). Within a case each field
        # gives one column, so that order is one order of all columns, ranked once per model.
        self._rank: dict[str, np.ndarray] = {}
        self._reason_tokens: dict[str, np.ndarray] = {}  # by rank: the text of the column, None if never evidence
        for name in engine.outcome_names:
            table = model._matrices[name][0]
            key = np.where(self._silent, np.inf, -np.abs(table))
            order = np.lexsort((field_of, key))
            rank = np.empty(n_columns, dtype=np.int16 if n_columns < 1 << 15 else np.int64)
            rank[order] = np.arange(n_columns)
            self._rank[name] = rank
            tokens = np.empty(n_columns, dtype=object)
            for j, (fid, field) in enumerate(zip(engine.fields, engine.field_defs, strict=True)):
                for c, level in enumerate(field.levels):
                    col = offsets[j] + c
                    tokens[col] = f"{fid}={level}:{float(table[col]):+.4f}"
            self._reason_tokens[name] = np.array([*tokens[order[: self._n_evidence]], None], dtype=object)
        self._status_shift = {
            name: np.asarray(model.outcomes[name].contributions[engine._status], dtype=float)
            if engine._status is not None
            else np.zeros(len(engine._status_levels))
            for name in engine.outcome_names
        }
        # Every outcome's model and ensemble members side by side: per field a (levels, members)
        # table, so that one gather per field gives every member's contribution of a case.
        self._rows = {name: model._matrices[name].shape[0] for name in engine.outcome_names}
        stacked = np.vstack([model._matrices[name] for name in engine.outcome_names])
        self._field_tables = [
            np.ascontiguousarray(stacked[:, offsets[j] : offsets[j] + len(f.levels)].T)
            for j, f in enumerate(engine.field_defs)
        ]
        self._width = stacked.shape[0]
        self._plan = self._make_plan()
        self._reasons_made: dict[str, dict[int, str]] = {name: {} for name in engine.outcome_names}
        self._questions_made: dict[int, str] = {}  # next questions' texts by key (_question_keys)
        # by digit of a key: none (0), then each indicator's id; the number of digits is the keys' base
        self._question_tokens = np.array([None, *(engine.fields[j] for j in engine._indicators.tolist())], dtype=object)
        if len(self._question_tokens) ** TOP_NEXT >= 2**63:
            raise ValueError(f"{len(engine._indicators)} indicators are too many for the keys of next questions")

    def score(
        self, codes: np.ndarray, *, progress: Callable[[int], None] | None = None, chunk_rows: int = CHUNK_ROWS
    ) -> pd.DataFrame:
        """The flat records of ``codes`` (``(n, n_fields)``) as a DataFrame; ``progress(rows)`` after each chunk."""
        return self.columns(codes, progress=progress, chunk_rows=chunk_rows).frame()

    def columns(
        self,
        codes: np.ndarray,
        *,
        progress: Callable[[int], None] | None = None,
        chunk_rows: int = CHUNK_ROWS,
        workers: int | Workers = 1,
    ) -> FlatColumns:
        """The flat records of ``codes`` as :class:`FlatColumns`; ``progress(rows)`` after each chunk.

        ``codes`` may be of any integer type (a million cases' codes fit in ``uint8``). With
        ``workers`` above 1 the chunks (at most ``rows / workers`` each, so that every worker has
        one) are scored by that many worker processes, each with its own engine built from the
        same model: a chunk's values do not depend on where or with which others it is scored,
        so the columns are the same as in this process (``tests/models/test_bulk.py``). Give
        :meth:`start_workers`' processes to have them start while the caller reads its input."""
        return FlatColumns.joined(list(self.parts(codes, progress=progress, chunk_rows=chunk_rows, workers=workers)))

    def parts(
        self,
        codes: np.ndarray | Iterable[np.ndarray],
        *,
        rows: int | None = None,
        progress: Callable[[int], None] | None = None,
        chunk_rows: int = CHUNK_ROWS,
        workers: int | Workers = 1,
    ) -> Iterator[FlatColumns]:
        """:meth:`columns` chunk by chunk, in order, each as soon as it is scored (one, empty, for no rows):
        a caller can write a chunk while the next ones are scored, and need not hold them all.

        ``codes`` may also be its rows in blocks of any sizes, in order, with ``rows`` their count if it is
        known (it sizes the chunks; None: chunks of ``chunk_rows``, the workers' for two or more): the
        blocks are read as the chunks are scored, so a caller can read and encode a register a block at
        a time (a million rows' codes are 60 MB, their text columns ten times that) while the first
        chunks are scored; no more than :data:`AHEAD_ROWS` wait to be scored."""
        if isinstance(codes, np.ndarray):
            codes = np.atleast_2d(codes)
            rows, blocks = codes.shape[0], iter([codes])
        else:
            blocks = iter(codes)
        if isinstance(workers, Workers) and workers.scorer is not self:
            raise ValueError("these workers were started by another scorer: start them with this one's start_workers")
        count = workers.count if isinstance(workers, Workers) else workers
        if count < 1:
            raise ValueError(f"workers must be at least 1, not {count}")
        if count > 1 and rows is not None:
            chunk_rows = max(1, min(chunk_rows, -(-rows // count)))
        chunks = _rechunked(blocks, chunk_rows, len(self.engine.fields))
        expected = None if rows is None else -(-rows // chunk_rows)
        return self._parts(chunks, expected, progress, workers if isinstance(workers, Workers) else count)

    def _parts(
        self,
        chunks: Iterator[np.ndarray],
        expected: int | None,
        progress: Callable[[int], None] | None,
        workers: int | Workers,
    ) -> Iterator[FlatColumns]:
        several = expected is None or expected > 1
        if isinstance(workers, Workers) and several:
            yield from map(self._flat, workers.scored(chunks, progress))
        elif isinstance(workers, int) and workers > 1 and several:
            with Workers(self, workers if expected is None else min(workers, expected)) as started:
                yield from map(self._flat, started.scored(chunks, progress))
        else:
            yield from (self._flat(self._chunk(chunk, progress)) for chunk in chunks)

    def _flat(self, part: dict[str, Any]) -> FlatColumns:
        """A chunk's values (:meth:`_chunk`) as :class:`FlatColumns`: its top reasons' keys made texts."""
        names = flat_names(self.engine)
        reasons = {f"{o}_top_reasons": o for o in self.engine.outcome_names}
        numbers: dict[str, np.ndarray] = {}
        texts: dict[str, tuple[list[str | None], np.ndarray]] = {}
        for name in names:
            if isinstance(part[name], tuple):
                texts[name] = part[name]
            elif name in reasons:
                texts[name] = self._reason_texts(reasons[name], part[name])
            elif name == "next_questions":
                texts[name] = self._question_texts(part[name])
            else:
                numbers[name] = part[name]
        return FlatColumns(names, len(part["settled"]), numbers, texts)

    def start_workers(self, count: int) -> Workers:
        """``count`` worker processes for :meth:`columns`, starting now in the background (see :class:`Workers`)."""
        return Workers(self, count)

    # ------------------------------------------------------------------ scoring
    def _sums(self, codes: np.ndarray) -> np.ndarray:
        """``(n, members)``: each member's sum of contributions, bit for bit numpy's ``sum(axis=-1)``
        of the gathered ``(n, n_fields)`` row, as :meth:`ScreeningModel.score_codes` takes it.

        numpy adds a row of up to 128 numbers with eight running sums (number ``k`` goes to sum
        ``k % 8``), combines them as ``((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`` and
        adds the rest one by one; a longer row is halved first. That order is replayed here for
        every member at once, and the first fields of each running sum are looked up in a
        table of their partial sums (made by the same additions in the same order).
        """
        out = np.empty((codes.shape[0], self._width))
        for start in range(0, codes.shape[0], _SUM_ROWS):
            # a few hundred rows at a time: every temporary stays small (and in the cache)
            by_field = np.ascontiguousarray(codes[start : start + _SUM_ROWS].T)  # a row of codes per field
            out[start : start + _SUM_ROWS] = self._evaluate(by_field, self._plan) + 0.0
        return out

    def _evaluate(self, codes: np.ndarray, plan: tuple[Any, ...]) -> np.ndarray:
        kind = plan[0]
        if kind == "halves":
            return self._evaluate(codes, plan[1]) + self._evaluate(codes, plan[2])
        _, lanes, rest = plan
        if kind == "lanes":
            s = [self._lane(codes, lane) for lane in lanes]
            total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
        else:
            total = np.zeros((codes.shape[1], self._width))
        for j in rest:  # the rest, one by one
            total += np.take(self._field_tables[j], codes[j], axis=0)
        return total

    def _lane(
        self, codes: np.ndarray, lane: tuple[tuple[int, ...], np.ndarray, np.ndarray, tuple[int, ...]]
    ) -> np.ndarray:
        prefix, table, radix, rest = lane
        index = codes[prefix[0]]
        for j, r in zip(prefix[1:], radix[1:], strict=True):
            index = index * r + codes[j]
        out = np.take(table, index, axis=0)
        for j in rest:
            out += np.take(self._field_tables[j], codes[j], axis=0)
        return out

    def _make_plan(self) -> tuple[Any, ...]:
        """The additions of :meth:`_sums`, decided once per model (see there)."""
        levels = [len(f.levels) for f in self.engine.field_defs]

        def lanes(fields: list[int]) -> tuple[Any, ...]:
            count = len(fields)
            if count < 8:
                return ("rest", [], fields)
            if count > _PAIRWISE_BLOCK:
                half = count // 2
                half -= half % 8
                return ("halves", lanes(fields[:half]), lanes(fields[half:]))
            end = count - count % 8
            out = []
            for k in range(8):
                members = fields[k:end:8]
                prefix = [members[0]]
                size = levels[members[0]]
                for j in members[1:]:
                    if size * levels[j] > _PREFIX_ROWS:
                        break
                    prefix.append(j)
                    size *= levels[j]
                out.append(
                    (
                        tuple(prefix),
                        self._prefix_table(prefix),
                        np.array([levels[j] for j in prefix]),
                        tuple(members[len(prefix) :]),
                    )
                )
            return ("lanes", out, fields[end:])

        return lanes(list(range(len(levels))))

    def _prefix_table(self, prefix: list[int]) -> np.ndarray:
        """Row ``index`` (the prefix's codes in mixed radix): ``t[j0][c0] + t[j1][c1] + ...``, added in order."""
        table = self._field_tables[prefix[0]]
        for j in prefix[1:]:
            nxt = self._field_tables[j]
            table = (table[:, None, :] + nxt[None, :, :]).reshape(-1, table.shape[1])
        return np.ascontiguousarray(table)

    def _scores(self, codes: np.ndarray) -> dict[str, OutcomeScores]:
        """What :meth:`ScreeningModel.score_codes` gives, value for value, without the
        ``(members, n, fields)`` gather (the contributions themselves are left out)."""
        model = self.engine.model
        sums = self._sums(codes)
        out: dict[str, OutcomeScores] = {}
        at = 0
        for name in self.engine.outcome_names:
            outcome = model.outcomes[name]
            rows = self._rows[name]
            block = sums[:, at : at + rows]
            at += rows
            log_odds = outcome.base_value + block[:, 0]
            probability = expit(log_odds)
            if rows > 1:
                members = model._bases[name][1:][None, :] + block[:, 1:]
                lower, upper = _interval(members)
                lower, upper = np.minimum(lower, probability), np.maximum(upper, probability)
            else:
                lower = upper = probability
            band = outcome.bands(probability)
            out[name] = OutcomeScores(
                log_odds=log_odds,
                probability=probability,
                lower=lower,
                upper=upper,
                contributions=np.zeros((0, 0)),
                base_value=outcome.base_value,
                band=band,
                above_threshold=probability >= outcome.threshold,
                tier=outcome_tiers(probability, outcome.referral),
            )
        return out

    def _chunk(self, codes: np.ndarray, progress: Callable[[int], None] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for start in range(0, max(codes.shape[0], 1), _BLOCK_ROWS):  # no rows: one empty block
            block = self._block(codes[start : start + _BLOCK_ROWS])
            for name, value in block.items():
                out.setdefault(name, []).append(value)
        merged: dict[str, Any] = {}
        for name, values in out.items():
            if isinstance(values[0], tuple):
                merged[name] = _concat_categories(values)
            else:
                merged[name] = np.concatenate(values)
        if progress is not None:
            progress(codes.shape[0])
        return merged

    def _block(self, codes: np.ndarray) -> dict[str, Any]:
        e = self.engine
        codes = codes.astype(np.int64)
        n = codes.shape[0]
        scores = self._scores(codes)
        status_code = (
            codes[:, e._status] if e._status is not None else np.full(n, len(e._status_levels) - 1, dtype=np.int64)
        )
        columns = codes + self._offsets
        # per case: a question put to the person is not asked yet (1), or answered yes (2)
        flags = np.take(self._flags, status_code[:, None] * self._flags.shape[1] + columns)
        any_flag = np.bitwise_or.reduce(flags, axis=1)
        answered_yes = (any_flag & _YES) != 0
        out: dict[str, Any] = {}
        medium = BANDS.index("medium")
        for name in e.outcome_names:
            s = scores[name]
            band = np.where(answered_yes, s.band, np.minimum(s.band, medium))
            out[f"{name}_probability"] = s.probability
            out[f"{name}_lower"] = s.lower
            out[f"{name}_upper"] = s.upper
            out[f"{name}_band"] = (list(BANDS), band)
            out[f"{name}_above_threshold"] = s.above_threshold
            out[f"{name}_base_value"] = float(s.base_value) + self._status_shift[name][status_code]
            out[f"{name}_log_odds"] = s.log_odds
            out[f"{name}_top_reasons"] = self._reason_keys(name, columns)
        model_tier = np.max(np.vstack([scores[name].tier for name in e.outcome_names]), axis=0)
        flip = np.zeros(n)
        settled = np.ones(n, dtype=bool)
        next_questions = np.zeros(n, dtype=np.int64)  # keys (_question_keys): 0, none
        # The outlook of every case with questions left, as the engine computes it (once per distinct case).
        todo = np.flatnonzero(any_flag & _UNASKED)
        if todo.size:
            log_odds = np.column_stack([scores[name].log_odds for name in e.outcome_names])
            unasked = e._applicable[status_code] & (codes[:, e._indicators] == e._not_asked)
            flip[todo], settled[todo], next_questions[todo] = self._outlooks(
                codes[todo], status_code[todo], unasked[todo], log_odds[todo]
            )
        eligible = answered_yes  # no screener's assessment and no danger answer in bulk
        referring = np.isin(model_tier, [TIERS.index(t) for t in REFERRAL_TIERS])
        nrm = TIERS.index("nrm")
        leaning = np.where(eligible | (model_tier != nrm), model_tier, TIERS.index("support"))
        refer = settled & referring & eligible
        no_referral = settled & ~referring
        status = np.where(
            refer,
            STATUSES.index("refer"),
            np.where(no_referral, STATUSES.index("no_referral"), STATUSES.index("ask_more")),
        )
        out["status"] = (list(STATUSES), status)
        out["refer"] = refer
        # None while not settled (not NaN): the category after the tiers
        out["referral_tier"] = ([*TIERS, None], np.where(refer | no_referral, model_tier, len(TIERS)))
        out["leaning_tier"] = (list(TIERS), leaning)
        out["settled"] = settled
        out["flip_chance"] = flip
        out["next_questions"] = next_questions
        return out

    def _reason_keys(self, name: str, columns: np.ndarray) -> np.ndarray:
        """Which evidence has the largest contributions (as the engine's stable sort), one number per
        case: the ranks of its top columns in mixed radix (:meth:`_reason_texts` makes the text)."""
        k = min(self.top_reasons, columns.shape[1])
        if k == 0:
            return np.zeros(columns.shape[0], dtype=np.int64)
        ranks = self._rank[name][columns]
        top = np.sort(np.partition(ranks, k - 1, axis=1)[:, :k], axis=1).astype(np.int64)
        none = self._n_evidence  # ranks from here on are never evidence
        np.minimum(top, none, out=top)
        return _mixed_radix(top, none + 1)

    def _reason_texts(self, name: str, keys: np.ndarray) -> tuple[list[str | None], np.ndarray]:
        """``field=answer:+contribution`` of the top columns joined by ``;``, made once per distinct key (and
        kept: a register's chunks share most of theirs)."""
        k = min(self.top_reasons, len(self.engine.fields))
        return _keyed_texts(keys, self._reasons_made[name], self._n_evidence + 1, k, self._reason_tokens[name])

    def _outlooks(
        self, codes: np.ndarray, status_code: np.ndarray, unasked: np.ndarray, log_odds: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flip chance, settled flag and next questions (keys, :meth:`_question_keys`) of cases with
        questions left, as the engine's ``outlook`` gives them, once per distinct case."""
        e = self.engine
        # Each distinct case once: its codes in the fewest bytes, one row as one key of them.
        small = np.ascontiguousarray(codes.astype(np.min_scalar_type(int(codes.max(initial=0)))))
        keys = small.view(np.dtype((np.void, small.itemsize * small.shape[1]))).reshape(-1)
        _, pick, which = np.unique(keys, return_index=True, return_inverse=True)
        which = which.reshape(-1)
        lo = log_odds[pick]
        names = list(e.outcome_names)
        p = expit(lo)
        none = np.zeros(len(pick))
        labour = p[:, names.index("labour")] if "labour" in names else none
        sexual = p[:, names.index("sexual")] if "sexual" in names else none
        # class_posterior's products, case by case the same
        class_p = np.column_stack(
            [(1 - labour) * (1 - sexual), labour * (1 - sexual), (1 - labour) * sexual, labour * sexual]
        )
        draws = e.common_draws
        status = status_code[pick]
        with threadpool_limits(limits=self.blas_threads) if self.blas_threads is not None else nullcontext():
            flip, settled, questions = draws.outlook_columns(
                log_odds=lo, class_p=class_p, unasked=unasked[pick], status=status, top=TOP_NEXT
            )
        return flip[which], settled[which], self._question_keys(questions)[which]

    def _question_keys(self, questions: np.ndarray) -> np.ndarray:
        """One number per case of its next questions (B, :data:`TOP_NEXT`), as positions among the
        indicators (-1 past the last): each plus one, in mixed radix (0: none; :meth:`_question_texts`
        makes the text)."""
        return _mixed_radix(questions + 1, len(self._question_tokens))

    def _question_texts(self, keys: np.ndarray) -> tuple[list[str | None], np.ndarray]:
        """The next questions' ids joined by ``;``, made once per distinct key (and kept, as the reasons')."""
        return _keyed_texts(keys, self._questions_made, len(self._question_tokens), TOP_NEXT, self._question_tokens)


def _mixed_radix(digits: np.ndarray, base: int) -> np.ndarray:
    """Each row of ``digits`` (B, places), each below ``base``, as one number: the first the most significant."""
    key = np.zeros(len(digits), dtype=np.int64)
    for place in range(digits.shape[1]):
        key = key * base + digits[:, place]
    return key


def _keyed_texts(
    keys: np.ndarray, made: dict[int, str], base: int, places: int, tokens: np.ndarray
) -> tuple[list[str | None], np.ndarray]:
    """The text of each distinct key of ``keys`` (:func:`_mixed_radix` of ``places`` digits below ``base``),
    and each key's place among them: the ``tokens`` of its digits (an object array of texts, None: left out), the
    first the most significant, joined by ``;``. Each text is made once and kept in ``made``."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    listed = distinct.tolist()
    new = [key for key in listed if key not in made]
    if new:
        digits = np.array(new, dtype=np.int64)[:, None] // base ** np.arange(places - 1, -1, -1) % base
        for key, row in zip(new, tokens[digits].tolist(), strict=True):
            made[key] = ";".join(filter(None, row))
    return [made[key] for key in listed], inverse.reshape(-1)


class Workers:
    """Worker processes of a :class:`BulkScorer`, for :meth:`BulkScorer.columns`: started clean
    (forkserver, or spawn where there is none), never forked from this process, so that its threads (a
    progress bar's, a database pool's) and their locks stay here. Each builds its engine from the
    scorer's model, with the outlooks' draws, once.

    They start as soon as this is made, from a thread of their own (the forkserver's start and the
    workers' imports take about a second, which overlaps whatever the caller does next: reading and
    encoding its input); leaving the ``with`` block shuts them down, scored or not."""

    def __init__(self, scorer: BulkScorer, count: int) -> None:
        if count < 2:
            raise ValueError(f"worker processes are for two or more, not {count}: score in this process")
        self.scorer = scorer
        self.count = count
        self._pool = ProcessPoolExecutor(
            count, mp_context=_context(), initializer=_start_worker, initargs=(scorer.engine.model, scorer.top_reasons)
        )
        self._starting = threading.Thread(target=self._start, name="tarozu-bulk-workers", daemon=True)
        self._starting.start()

    def _start(self) -> None:
        """Each worker started by a call that waits for nothing (the pool starts one per call)."""
        try:
            for _ in range(self.count):
                self._pool.submit(_started)
        except (RuntimeError, BrokenProcessPool):  # shut down meanwhile, or a worker stopped: scored() tells why
            pass

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._starting.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def scored(self, chunks: Iterable[np.ndarray], progress: Callable[[int], None] | None) -> Iterator[dict[str, Any]]:
        """Each chunk's :meth:`BulkScorer._chunk`, in order. The chunks are taken as they come and
        handed to the workers at once, up to :data:`AHEAD_ROWS` rows not yet given back; each chunk
        scored is given back as soon as it and those before it are, between two chunks taken."""
        ahead: deque[tuple[int, Future[dict[str, Any]]]] = deque()
        waiting = 0  # rows handed to the workers and not yet given back
        taken = iter(chunks)
        taking = True
        try:
            while taking or ahead:
                chunk = next(taken, None) if taking else None
                if chunk is None:
                    taking = False  # every chunk handed on: give back the rest
                else:
                    ahead.append((chunk.shape[0], self._pool.submit(_worker_chunk, chunk)))
                    waiting += chunk.shape[0]
                while ahead and (not taking or ahead[0][1].done() or waiting > AHEAD_ROWS):
                    rows, future = ahead.popleft()
                    part = future.result()
                    waiting -= rows
                    if progress is not None:
                        progress(rows)
                    yield part
        except BrokenProcessPool as exc:
            raise WorkerStoppedError(
                f"a bulk scoring worker process stopped before its chunk was scored ({exc}); nothing was "
                "kept: if the machine ran short of memory, score again with fewer workers"
            ) from exc


def _context() -> multiprocessing.context.BaseContext:
    """How :class:`Workers` start: forked from a forkserver that has imported this module once (spawned
    where there is none)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["models.bulk"])
    return context


def start_forkserver() -> None:
    """Start, now and in the background, the forkserver that :class:`Workers` fork from (nothing where there
    is none, or where it runs): its start and its imports, about a quarter of a second on the other core,
    then overlap what the caller does before it starts its workers (loading the model, opening the input)."""
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


_WORKER: list[BulkScorer] = []
"""A worker process's scorer (:class:`Workers`), made once when the process starts."""


def _start_worker(model: Any, top_reasons: int) -> None:
    threadpool_limits(limits=1)  # a process per core: threads within each would only wait on each other
    scorer = BulkScorer(ScreeningEngine(model), top_reasons=top_reasons)
    scorer.engine.common_draws  # noqa: B018 (the outlooks' draws, built while the worker starts)
    _WORKER.append(scorer)
    gc.collect()
    gc.freeze()  # what the process keeps to the end (modules, model, engine) is left out of the collector's sweeps


def _started() -> None:
    """Nothing: a call that makes the pool start a worker (:meth:`Workers._start`)."""


def _worker_chunk(codes: np.ndarray) -> dict[str, Any]:
    return _WORKER[0]._chunk(codes, None)


def _rechunked(blocks: Iterator[np.ndarray], rows: int, fields: int) -> Iterator[np.ndarray]:
    """The rows of ``blocks`` (each ``(n, fields)``, of any ``n``) in chunks of ``rows``, the last of what is
    left; one empty chunk if there are none."""
    held: list[np.ndarray] = []
    count, given = 0, False
    for block in blocks:
        while len(block):
            take = min(rows - count, len(block))
            held.append(block[:take])
            count, block = count + take, block[take:]
            if count == rows:
                yield held[0] if len(held) == 1 else np.concatenate(held)
                held, count, given = [], 0, True
    if count or not given:
        yield np.concatenate(held) if held else np.zeros((0, fields), dtype=np.uint8)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of :meth:`BulkScorer.score` as plain records (what :meth:`ScreeningEngine.flat` returns)."""
    out = []
    for record in frame.to_dict(orient="records"):
        out.append({str(k): _python(v) for k, v in record.items()})
    return out


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
