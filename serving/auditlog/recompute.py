"""``tarozu audit-log verify --recompute``: re-score logged screenings and prove their response hashes.

What is hashed. ``POST /v1/screenings`` answers ``{"screening_id", "created_at", "model", ...}``
followed by the explained result that :meth:`models.engine.ScreeningEngine.render` gives (outcomes
with their reasons, recommendation, interview counts, next questions, caveat). The envelope is the
row's own columns (``screening_id``, ``created_at``, ``model_name``, ``model_version``), kept by the
hash chain; ``response_sha256`` is the SHA-256 of the rendered result, byte for byte as sent. It is
a pure function of the row: the original answers, context and audit attributes, the danger answer
(``result.danger``) and the screener's assessment, the model version, ``lang``, whether the
response showed probabilities (``response_probabilities``: a screener's response does not unless
``TAROZU_SHOW_PROBABILITIES_TO_SCREENERS`` was set) and its form (``response_explain``: ``compact``,
the default, or ``full``; empty before migration 0007, when every response was full). The row keeps
the outputs but not the per-field contributions (from migration 0007 on): the response hash covers
them, since they are rendered from the same inputs and model. The exact response is therefore
``envelope[:-1] + b"," + rendered[1:]`` rebuilt from the row.

Recompute loads each logged model version (by name and version, from the registry, as serving
loads a model), re-scores the row's original values with the outlook rule the row was given
(``result.outlook_rule``, :data:`models.interview.RULES`; none before rule 2, meaning rule 1;
corrections are later rows of their own and do not enter), renders, and compares the hash and
the logged outputs (``result`` and ``refer``).
A mismatch is named: the input was edited (the logged answers no longer give the logged result or
response), the output was edited (the answers give the response that was hashed but the logged
result differs), the model version was swapped (another registered version reproduces the
response), or the response hash or its settings were edited. A row whose logged values or result
cannot be read at all is named as an edited input or output, and the others are still checked.
Rows logged before response hashes were kept (migration 0006) are counted as not recomputable, not
as failures.

The log is read :data:`RECOMPUTE_ROWS` rows at a time (never held in memory whole), and the rows of
a chunk with one model version and outlook rule are assessed together, which gives each row what it
gets alone (``tests/models/test_interview.py``, ``tests/serving/test_scoring.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson
from sqlalchemy import Engine, func, select

from models.engine import Assessment, Interview, ScreeningEngine
from models.interview import RULES
from serving import registry
from serving.auditlog.database import screenings

INPUT_KEYS = frozenset({"consent", "danger", "not_asked_reasons"})
"""Keys of the logged ``result`` that are inputs (what the screener recorded), not outputs."""
NOT_RECOMPUTABLE = "not recomputable (logged before response hashes were kept: migration 0006)"
MAX_DIFFERENCES = 5
RECOMPUTE_ROWS = 1_000
"""Logged screenings read and recomputed at a time: the log is never held in memory whole, and the
rows of one model version and outlook rule among them are assessed together."""


def response_sha256(rendered: bytes) -> str:
    """The hash a screening row keeps: SHA-256 of the rendered result, as sent after the envelope."""
    return hashlib.sha256(rendered).hexdigest()


class ModelSource(Protocol):
    """Where recompute finds a logged model version."""

    def load(self, name: str, version: str) -> ScreeningEngine:
        """The engine of ``name`` version ``version``; raises ``LookupError`` or ``ValueError``."""
        ...

    def versions(self, name: str) -> list[str]:
        """Every version of ``name`` there is (to name the one that did score a swapped row)."""
        ...


@dataclass
class RegistrySource:
    """Model versions from the MLflow registry (``models:/<name>/<version>``), each loaded once."""

    tracking_uri: str | None = None
    _engines: dict[tuple[str, str], ScreeningEngine] = field(default_factory=dict)

    def load(self, name: str, version: str) -> ScreeningEngine:

        key = (name, version)
        if key not in self._engines:
            registered = registry.load_version(name=name, version=version, tracking_uri=self.tracking_uri)
            self._engines[key] = ScreeningEngine(registered.model)
        return self._engines[key]

    def versions(self, name: str) -> list[str]:

        return registry.model_versions(name=name, tracking_uri=self.tracking_uri)


@dataclass(frozen=True)
class Mismatch:
    seq: int
    screening_id: str
    kind: str  # input_edited, output_edited, model_version_swapped, response_edited, model_unavailable
    detail: str

    def __str__(self) -> str:
        return f"screening {self.screening_id} (row {self.seq}): {self.kind.replace('_', ' ')}: {self.detail}"


@dataclass
class RecomputeReport:
    checked: int = 0
    not_recomputable: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def logged_rule(result: dict[str, Any]) -> int:
    """The outlook rule a logged screening was given, from its parsed ``result`` (``outlook_rule``;
    rows from before rule 2 have none and were given rule 1). Raises ``ValueError`` for a rule Tarozu
    does not have."""
    rule = result.get("outlook_rule", 1)
    if type(rule) is not int or rule not in RULES:
        raise ValueError(f"the logged outlook rule {rule!r} is not one of {RULES}")
    return int(rule)


def _codes(scorer: ScreeningEngine, row: Any) -> Any:
    """The level codes of a logged screening's original values (answers, context, audit attributes)."""
    return scorer.encode({**orjson.loads(row.answers), **orjson.loads(row.context), **orjson.loads(row.audit)})


def _interview(row: Any, logged: dict[str, Any]) -> Interview:
    return Interview(danger=logged.get("danger", Interview.danger), screener_assessment=row.screener_assessment)


def _rendered(scorer: ScreeningEngine, row: Any, assessment: Assessment) -> bytes:
    """The result as the screening's response rendered it (its language, probabilities and form)."""
    return scorer.render(
        assessment,
        lang=row.lang or "en",
        probabilities=bool(row.response_probabilities),
        explain=getattr(row, "response_explain", None) or "full",  # rows before migration 0007 were full
    )


def rebuild(scorer: ScreeningEngine, row: Any, logged: dict[str, Any] | None = None) -> tuple[Assessment, bytes]:
    """The assessment and rendered result of a logged screening, from its original values, with the
    outlook rule it was given (:func:`logged_rule`); ``logged`` is its result, if already parsed."""
    logged = orjson.loads(row.result) if logged is None else logged
    assessment = scorer.assess(_codes(scorer, row), _interview(row, logged), rule=logged_rule(logged))
    return assessment, _rendered(scorer, row, assessment)


def _paths(a: Any, b: Any, prefix: str = "") -> Iterator[str]:
    """The key paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                yield path
            else:
                yield from _paths(a[key], b[key], path)
    elif a != b:
        yield prefix or "(value)"


def _output_differences(assessment: Assessment, row: Any, result: dict[str, Any]) -> list[str]:
    """Where the logged outputs (of the parsed ``result``) differ from the recomputed ones (empty if they agree)."""
    logged = {k: v for k, v in result.items() if k not in INPUT_KEYS}
    outcomes = logged.get("outcomes")
    kept = isinstance(outcomes, dict) and any("contributions" in o for o in outcomes.values())
    # Rows from migration 0007 on keep the outputs without the contributions (recomputed when read).
    recomputed = orjson.loads(orjson.dumps(assessment.compact() if kept else assessment.outputs()))
    if "outlook_rule" not in logged and assessment.outlook_rule == 1:
        del recomputed["outlook_rule"]  # logged before rules were numbered: rule 1, unnamed
    differences = [f"result.{p}" for p in _paths(recomputed, logged)]
    if bool(row.refer) != assessment.refer:
        differences.append("refer")
    return differences


def _listed(differences: list[str]) -> str:
    shown = ", ".join(differences[:MAX_DIFFERENCES])
    more = len(differences) - MAX_DIFFERENCES
    return shown + (f" and {more} more" if more > 0 else "")


def check_rows(rows: Sequence[Any], source: ModelSource) -> list[Mismatch | None]:
    """Recompute logged screenings that have a response hash: for each, None if it is proven, else
    what does not hold. The rows given one model version and outlook rule are assessed together
    (:meth:`~models.engine.ScreeningEngine.assess_many`, which gives each case what it gives it alone)."""
    found: list[Mismatch | None] = [None] * len(rows)
    results: list[dict[str, Any]] = [{} for _ in rows]
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, row in enumerate(rows):
        try:
            results[i] = orjson.loads(row.result)
            if not isinstance(results[i], dict):
                raise ValueError("the logged result is not a JSON object")
            rule = logged_rule(results[i])
        except ValueError as exc:  # orjson's errors are ValueErrors too
            found[i] = _mismatch(row, "output_edited", f"{exc}: the logged result was edited")
            continue
        groups.setdefault((row.model_name, row.model_version, rule), []).append(i)
    for (name, version, rule), members in groups.items():
        try:
            scorer = source.load(name, version)
        except (LookupError, ValueError, OSError) as exc:
            for i in members:
                found[i] = _mismatch(
                    rows[i], "model_unavailable", f"model {name!r} version {version} could not be loaded: {exc}"
                )
            continue
        readable, codes = [], []
        for i in members:
            try:
                codes.append(_codes(scorer, rows[i]))
                readable.append(i)
            except (ValueError, TypeError) as exc:  # not JSON, not an object, or a value the questions lack
                found[i] = _mismatch(
                    rows[i], "input_edited", f"its logged answers, context or audit attributes cannot be read: {exc}"
                )
        if not readable:
            continue
        interviews = [_interview(rows[i], results[i]) for i in readable]
        assessments = scorer.assess_many(np.vstack(codes), interviews, rule=rule)
        for i, assessment in zip(readable, assessments, strict=True):
            found[i] = _judge(rows[i], results[i], scorer, assessment, source)
    return found


def _mismatch(row: Any, kind: str, detail: str) -> Mismatch:
    return Mismatch(row.seq, row.screening_id, kind, detail)


def _judge(
    row: Any, result: dict[str, Any], scorer: ScreeningEngine, assessment: Assessment, source: ModelSource
) -> Mismatch | None:
    """Whether the row's recomputed ``assessment`` proves it (None), or what was edited."""
    name, version = row.model_name, row.model_version
    hash_ok = response_sha256(_rendered(scorer, row, assessment)) == row.response_sha256
    differences = _output_differences(assessment, row, result)
    if hash_ok and not differences:
        return None
    if hash_ok:
        return _mismatch(
            row,
            "output_edited",
            "its inputs and model give the response that was hashed, but the logged outputs differ: "
            + _listed(differences),
        )
    for other in _other_versions(source, name, version):
        try:
            _, rendered_by_other = rebuild(source.load(name, other), row, result)
        except (LookupError, ValueError, OSError):
            continue
        if response_sha256(rendered_by_other) == row.response_sha256:
            return _mismatch(
                row,
                "model_version_swapped",
                f"the row says version {version}, but version {other} reproduces its response",
            )
    if not differences:
        return _mismatch(
            row,
            "response_edited",
            "its inputs and model give the logged outputs but not the logged response hash: the hash, "
            "lang or response_probabilities was edited (or the inputs and outputs together)",
        )
    return _mismatch(
        row,
        "input_edited",
        "its logged answers, context or audit attributes do not give the response that was hashed "
        f"with version {version} (outputs recomputed differ: {_listed(differences)})",
    )


def _other_versions(source: ModelSource, name: str, version: str) -> list[str]:
    try:
        return [v for v in source.versions(name) if v != version]
    except Exception:  # no listing: the swap cannot be named, the mismatch still is
        return []


def verify_recompute(
    engine: Engine,
    source: ModelSource,
    *,
    sample: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RecomputeReport:
    """Recompute every logged screening (or a random ``sample`` of them) and check each one."""
    query = select(screenings)
    query = query.order_by(func.random()).limit(sample) if sample is not None else query.order_by(screenings.c.seq)
    report = RecomputeReport()
    with engine.connect() as conn:
        for rows in conn.execution_options(yield_per=RECOMPUTE_ROWS).execute(query).partitions():
            hashed = [row for row in rows if row.response_sha256 is not None]
            report.not_recomputable += len(rows) - len(hashed)
            report.mismatches.extend(found for found in check_rows(hashed, source) if found is not None)
            report.checked += len(hashed)
            if progress is not None:
                progress(report.checked)
    report.mismatches.sort(key=lambda m: m.seq)
    return report
