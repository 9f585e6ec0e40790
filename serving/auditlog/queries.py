"""Screenings as the audit log stores them, and the views the API reads back.

A screening row keeps the values as submitted (every indicator, context field and monitoring
attribute; unanswered ones as ``unknown``) and never changes; corrections are later rows.
The current view applies them in order, and the history lists them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import Engine, and_, func, select

from models.questionnaire import load_questionnaire
from serving.auditlog.database import corrections, decisions, outcomes, screenings
from serving.errors import NO_SCREENING, NotFoundError

SCREENER_ASSESSMENT = "screener_assessment"


def case_ref_hmac(secret: bytes, case_ref: str | None) -> str | None:
    """The only form in which a case reference is kept."""
    if case_ref is None:
        return None
    return hmac.new(secret, case_ref.encode("utf-8"), hashlib.sha256).hexdigest()


def group_values(group: BaseModel | None, ids: tuple[str, ...]) -> dict[str, Any]:
    """Every field of a validated answers/context/monitoring group, absent ones at their reference level
    (``not_asked`` for questions, ``unknown`` for context and monitoring fields)."""
    values = dict(_references(ids))
    if group is not None:
        given = group.__dict__
        # a field the request did not set is None (every group field defaults to None): read those it set
        for fid in group.model_fields_set:
            value = given[fid]
            if value is not None and fid in values:
                values[fid] = value
    return values


@functools.cache
def _references(ids: tuple[str, ...]) -> dict[str, str]:
    """Each field's reference level (what an absent value means), by id, in the order of ``ids``."""
    reference = {f.id: f.reference for f in load_questionnaire().all_fields}
    return {fid: reference[fid] for fid in ids}


def stored_value(field_id: str, raw: Any) -> Any:
    """A raw value (from /invocations or CSV) as the log keeps it: whole months or a level."""
    field = load_questionnaire().field(field_id)
    if field.numeric and isinstance(raw, (int, float, str)) and not isinstance(raw, bool):
        try:
            number = float(raw)
        except ValueError:
            number = float("nan")
        if number.is_integer():
            field.normalise(raw)  # range check
            return int(number)
    return field.normalise(raw)


def section_of(field_id: str) -> str:
    """Where a correctable field lives in a screening: answers, context, monitoring or the assessment."""
    if field_id == SCREENER_ASSESSMENT:
        return SCREENER_ASSESSMENT
    kind = load_questionnaire().field(field_id).kind
    return {"indicator": "answers", "context": "context", "monitoring": "monitoring"}[kind]


def _every_field(stored: str, fields: tuple[Any, ...]) -> dict[str, Any]:
    """A logged group with every field: rows keep only the values given (from migration 0007 on),
    the others are at their reference level (not asked, not recorded). Earlier rows kept them all."""
    given: dict[str, Any] = orjson.loads(stored)
    return {**{f.id: f.reference for f in fields}, **given}


def original_values(row: Any) -> dict[str, Any]:
    q = load_questionnaire()
    return {
        "answers": _every_field(row.answers, q.indicators),
        "context": _every_field(row.context, q.context),
        "monitoring": _every_field(row.audit, q.monitoring),
        SCREENER_ASSESSMENT: row.screener_assessment,
    }


def flat_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """One mapping of every field (answers, context, monitoring) and the screener's assessment."""
    flat: dict[str, Any] = {SCREENER_ASSESSMENT: values.get(SCREENER_ASSESSMENT)}
    for section in ("answers", "context", "monitoring"):
        flat.update(values.get(section) or {})
    return flat


def value_of(values: Mapping[str, Any], field_id: str) -> Any:
    section = section_of(field_id)
    if section == SCREENER_ASSESSMENT:
        return values[SCREENER_ASSESSMENT]
    return values[section].get(field_id)


def apply_corrections(values: dict[str, Any], history: Sequence[Any]) -> dict[str, Any]:
    """The values after ``history`` (rows with ``field`` and JSON ``new_value``), in order."""
    current = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for entry in history:
        section = section_of(entry.field)
        new = orjson.loads(entry.new_value)
        if section == SCREENER_ASSESSMENT:
            current[SCREENER_ASSESSMENT] = new
        else:
            current[section][entry.field] = new
    return current


def current_value(field_id: str) -> Any:
    """For :class:`serving.auditlog.AppendCorrection`: the field's value after earlier corrections
    (a partial of a module function, so that it travels to the writer's process)."""
    return functools.partial(_current_value, field_id)


def _current_value(field_id: str, original_row: Any, history: list[Any]) -> Any:
    return value_of(apply_corrections(original_values(original_row), history), field_id)


# ---------------------------------------------------------------------------- reads
def _probabilities(result: Mapping[str, Any]) -> dict[str, float | None]:
    if "outcomes" in result:
        return {name: o["probability"] for name, o in result["outcomes"].items()}
    return {k.removesuffix("_probability"): v for k, v in result.items() if k.endswith("_probability")}


def get_screening(engine: Engine, screening_id: str, *, owner: str | None = None) -> dict[str, Any]:
    """A screening with its current (corrected) values, history, decision and outcomes (the full view).

    With ``owner``, only a screening that key made: another's is the same 404 as an unknown id.
    """
    query = select(screenings).where(screenings.c.screening_id == screening_id)
    if owner is not None:
        query = query.where(screenings.c.key_id == owner)
    with engine.connect() as conn:
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(NO_SCREENING.format(id=screening_id), field="screening_id", value=screening_id)
        history = conn.execute(
            select(corrections).where(corrections.c.screening_id == screening_id).order_by(corrections.c.seq)
        ).all()
        decision = conn.execute(select(decisions).where(decisions.c.screening_id == screening_id)).one_or_none()
        results = conn.execute(
            select(outcomes).where(outcomes.c.screening_id == screening_id).order_by(outcomes.c.seq)
        ).all()
    original = original_values(row)
    return {
        "view": "full",
        "screening_id": row.screening_id,
        "seq": row.seq,
        "created_at": row.created_at,
        "source": row.source,
        "role": row.role,
        "key_id": row.key_id,
        "model": {"name": row.model_name, "version": row.model_version},
        "lang": row.lang,
        "has_case_ref": row.case_ref_hmac is not None,
        "original": original,
        "current": apply_corrections(original, history),
        "result": orjson.loads(row.result),
        "corrections": [
            {
                "field": c.field,
                "old_value": orjson.loads(c.old_value),
                "new_value": orjson.loads(c.new_value),
                "reason": c.reason,
                "override_reason": c.override_reason,
                "created_at": c.created_at,
                "role": c.role,
                "key_id": c.key_id,
            }
            for c in history
        ],
        "decision": None
        if decision is None
        else {
            "decision": decision.decision,
            "reason": decision.reason,
            "reason_text": decision.reason_text,
            "differs_from_recommendation": decision.differs,
            "override_reason": decision.override_reason,
            "created_at": decision.created_at,
            "role": decision.role,
            "key_id": decision.key_id,
        },
        "outcomes": [
            {"outcome": o.outcome, "created_at": o.created_at, "role": o.role, "key_id": o.key_id} for o in results
        ],
    }


HIDDEN_FROM_SCREENERS = ("probability", "interval", "range", "threshold", "base_value", "log_odds")
"""Per outcome, the logged numbers that are, or give back, the probability of a type of exploitation:
what :meth:`models.engine.ScreeningEngine.describe` leaves out of a screener's result."""


def without_probabilities(result: Mapping[str, Any]) -> dict[str, Any]:
    """A logged result as a screener may read it: bands, tier, reasons and next questions, no probability."""
    shown = {k: v for k, v in result.items() if not k.endswith("_probability")}  # rows of the first format
    if isinstance(result.get("outcomes"), dict):
        shown["outcomes"] = {
            name: {k: v for k, v in outcome.items() if k not in HIDDEN_FROM_SCREENERS}
            for name, outcome in result["outcomes"].items()
        }
    return shown


def _without(entry: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in keys}


def screener_view(record: Mapping[str, Any], *, probabilities: bool) -> dict[str, Any]:
    """A screener's own screening: what they entered and were shown, its corrections and decision.

    Not the specialist's outcomes (not needed to screen), nor key ids (a supervisor's override shows
    its role and reason), nor the probabilities unless ``probabilities``.
    """
    decision = record["decision"]
    return {
        "view": "screener",
        **{k: record[k] for k in ("screening_id", "created_at", "model", "lang", "has_case_ref")},
        "original": record["original"],
        "current": record["current"],
        "result": dict(record["result"]) if probabilities else without_probabilities(record["result"]),
        "corrections": [_without(c, "key_id") for c in record["corrections"]],
        "decision": None if decision is None else _without(decision, "key_id"),
    }


def specialist_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a specialist needs for the assessment: the answers and context as corrected, the result
    (scores, bands, tier, reasons), the decision and earlier outcomes.

    Not the audit attributes (they are for the fairness audit, and the specialist meets the
    person), not the screener's own assessment (it measures automation bias and would anchor the
    assessment), no free text (reasons may name people) and no key ids or roles.
    """
    decision = record["decision"]
    return {
        "view": "specialist",
        **{k: record[k] for k in ("screening_id", "created_at", "model", "lang")},
        "answers": record["current"]["answers"],
        "context": record["current"]["context"],
        "corrected_fields": [c["field"] for c in record["corrections"]],
        "result": record["result"],
        "decision": None
        if decision is None
        else {k: decision[k] for k in ("decision", "reason", "differs_from_recommendation", "created_at")},
        "outcomes": [{"outcome": o["outcome"], "created_at": o["created_at"]} for o in record["outcomes"]],
    }


def timestamp(value: datetime) -> str:
    """A query bound in the audit timestamp format (naive times are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def list_screenings(
    engine: Engine,
    *,
    start: datetime | None,
    end: datetime | None,
    page: int,
    page_size: int,
    owner: str | None = None,
    probabilities: bool = True,
) -> dict[str, Any]:
    """Screenings with their decisions, oldest first, one page at a time.

    With ``owner``, only the screenings that key made (a screener's own); without
    ``probabilities``, the probability columns are null.
    """
    conditions = []
    if owner is not None:
        conditions.append(screenings.c.key_id == owner)
    if start is not None:
        conditions.append(screenings.c.created_at >= timestamp(start))
    if end is not None:
        conditions.append(screenings.c.created_at < timestamp(end))
    where = and_(*conditions) if conditions else None
    n_corrections = (
        select(corrections.c.screening_id, func.count().label("n")).group_by(corrections.c.screening_id).subquery()
    )
    query = (
        select(
            screenings.c.screening_id,
            screenings.c.seq,
            screenings.c.created_at,
            screenings.c.source,
            screenings.c.role,
            screenings.c.key_id,
            screenings.c.model_name,
            screenings.c.model_version,
            screenings.c.screener_assessment,
            screenings.c.refer,
            screenings.c.result,
            decisions.c.decision,
            decisions.c.reason.label("decision_reason"),
            func.coalesce(n_corrections.c.n, 0).label("n_corrections"),
        )
        .select_from(
            screenings.outerjoin(decisions, decisions.c.screening_id == screenings.c.screening_id).outerjoin(
                n_corrections, n_corrections.c.screening_id == screenings.c.screening_id
            )
        )
        .order_by(screenings.c.seq)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    count = select(func.count()).select_from(screenings)
    if where is not None:
        query, count = query.where(where), count.where(where)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        total = conn.execute(count).scalar_one()
    items = []
    for r in rows:
        shown = _probabilities(orjson.loads(r.result)) if probabilities else {}
        items.append(
            {
                "screening_id": r.screening_id,
                "seq": r.seq,
                "created_at": r.created_at,
                "source": r.source,
                "role": r.role,
                "key_id": r.key_id,
                "model": {"name": r.model_name, "version": r.model_version},
                "screener_assessment": r.screener_assessment,
                "refer": r.refer,
                "labour_probability": shown.get("labour"),
                "sexual_probability": shown.get("sexual"),
                "decision": r.decision,
                "decision_reason": r.decision_reason,
                "n_corrections": r.n_corrections,
            }
        )
    return {"items": items, "page": page, "page_size": page_size, "total": total}


def iter_screenings(
    engine: Engine, *, start: datetime | None, end: datetime | None, page_size: int = 500
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every screening of the period, oldest first, as ``(listing item, full record)``."""
    page = 1
    while True:
        items = list_screenings(engine, start=start, end=end, page=page, page_size=page_size)["items"]
        for item in items:
            yield item, get_screening(engine, item["screening_id"])
        if len(items) < page_size:
            return
        page += 1
