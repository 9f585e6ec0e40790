"""What the screening routes do, between parsing a request and writing its response.

Each function reads ``services.model`` once and uses that one :class:`LoadedModel` for
scoring, explaining and logging, so a reload in the middle cannot mix versions.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import orjson

from models.bulk import records as bulk_records
from models.engine import Assessment, Interview, ScreeningEngine
from models.interview import RULE as OUTLOOK_RULE
from models.questionnaire import QuestionnaireError, load_questionnaire
from serving import registry
from serving.auditlog.queries import (
    case_ref_hmac,
    get_screening,
    group_values,
    list_screenings,
    screener_view,
    specialist_view,
)
from serving.auditlog.recompute import response_sha256
from serving.auditlog.writer import AppendBulkScoring, AppendScreenings
from serving.errors import InvocationError
from serving.keys import Principal
from serving.runtime import LoadedModel, Services
from serving.schemas import not_applicable
from serving.withdrawal import ensure_not_withdrawn

BATCH_CHUNK = 200

_Q = load_questionnaire()
_INDICATORS = tuple(f.id for f in _Q.indicators)
_CONTEXT = tuple(f.id for f in _Q.context)
_MONITORING = tuple(f.id for f in _Q.monitoring)
_REFERENCE = {f.id: f.reference for f in _Q.all_fields}


def serving_model(services: Services) -> LoadedModel:
    """The model to score with, read once (a reload cannot mix versions within a request); 503 if an
    admin withdrew it (the stop procedure)."""
    loaded = services.model
    ensure_not_withdrawn(services, loaded)
    return loaded


def new_screening_id() -> str:
    """A time-ordered UUID (version 7, RFC 9562), written as ``str(uuid.UUID(...))`` writes it: the
    Unix time in milliseconds in the first 48 bits, then 74 random bits from ``os.urandom`` (with the
    version and variant bits).

    Why time-ordered: each new id lands at the end of the audit log's unique index on
    ``screening_id`` instead of in a random page of it, so a commit and SQLite's checkpoints write a
    few pages at the end, not one page per row scattered over the whole index (measured side by side,
    interleaved commits of 4 rows, five comparisons: p99 1.6 to 3.5 ms against 3.3 to 5.1 ms with
    random version-4 ids). The time it carries is the screening's ``created_at``, which its answer
    and its audit record already show; the random bits keep ids unguessable."""
    raw = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _row(
    *,
    principal: Principal,
    loaded: LoadedModel,
    source: str,
    answers: dict[str, Any],
    context: dict[str, Any],
    monitoring: dict[str, Any],
    result: dict[str, Any],
    refer: bool,
    lang: str | None = None,
    assessment: str | None = None,
    case_ref: str | None = None,
) -> dict[str, Any]:
    return {
        "screening_id": new_screening_id(),
        "role": principal.role,
        "key_id": principal.key_id,
        "source": source,
        "model_name": loaded.registered.name,
        "model_version": str(loaded.registered.version),
        "questionnaire_version": _Q.version,
        "lang": lang,
        "case_ref_hmac": case_ref,
        "screener_assessment": assessment,
        "answers": _dumps(given(answers)),
        "context": _dumps(given(context)),
        # The monitoring fields are stored in the column "audit", its first name: row hashes cover column names.
        "audit": _dumps(given(monitoring)),
        "result": _dumps(result),
        "refer": refer,
    }


def _values(case: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return (
        group_values(case.answers, _INDICATORS),
        group_values(case.context, _CONTEXT),
        group_values(case.monitoring, _MONITORING),
    )


def shows_probabilities(principal: Principal, services: Services) -> bool:
    """Whether a result for this caller carries the probability of each type of exploitation.

    Not for the screener (who sees the tier, the band words, the reasons and the next questions)
    unless ``TAROZU_SHOW_PROBABILITIES_TO_SCREENERS`` is set; every other role sees them. The
    audit log keeps them whoever asked.
    """
    return principal.role != "screener" or services.settings.show_probabilities_to_screeners


def _interview(case: Any) -> Interview:
    return Interview(danger=case.danger, screener_assessment=case.screener_assessment)


def _logged_result(case: Any, assessment: Assessment) -> dict[str, Any]:
    """The audit log's copy of a result: its outputs (not the contributions: they are recomputed when
    read), the consent and why questions were not asked."""
    return {
        **assessment.outputs(),
        "consent": case.consent,
        "danger": case.danger,
        "not_asked_reasons": _not_asked_reasons(case),
    }


def _not_asked_reasons(case: Any) -> dict[str, str]:
    """The reasons given, and ``not_applicable`` for every question that does not apply to who is screened."""
    reasons = dict.fromkeys(not_applicable(case.context.migrant_status), "not_applicable")
    # model_dump(exclude_none=True) of a flat group of optional literals, in field order, without its machinery
    reasons.update({fid: reason for fid, reason in case.not_asked_reasons.__dict__.items() if reason is not None})
    return reasons


def _case_row(
    case: Any,
    values: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
    *,
    services: Services,
    loaded: LoadedModel,
    principal: Principal,
    source: str,
    result: dict[str, Any],
) -> dict[str, Any]:
    answers, context, monitoring = values
    return _row(
        principal=principal,
        loaded=loaded,
        source=source,
        answers=answers,
        context=context,
        monitoring=monitoring,
        result=result,
        refer=result["refer"],
        lang=case.lang,
        assessment=case.screener_assessment,
        case_ref=case_ref_hmac(services.hmac_key, case.case_ref),
    )


async def screen_one(case: Any, *, services: Services, principal: Principal, explain: str = "compact") -> bytes:
    """Score, explain and log one case; the response body (in the ``explain`` form: ``compact`` or
    ``full``), once the log row is committed."""
    loaded = serving_model(services)
    scorer = loaded.scorer
    values = _values(case)
    answers, context, monitoring = values
    assessment = scorer.assess(scorer.encode({**answers, **context, **monitoring}), _interview(case))
    probabilities = shows_probabilities(principal, services)
    described = scorer.render(assessment, lang=case.lang, probabilities=probabilities, explain=explain)
    result = _logged_result(case, assessment)
    row = _case_row(case, values, services=services, loaded=loaded, principal=principal, source="api", result=result)
    row["response_sha256"] = response_sha256(described)
    row["response_probabilities"] = probabilities
    row["response_explain"] = explain
    [(_seq, created_at)] = await services.writer.submit(AppendScreenings([row]))
    return _with_ids(row["screening_id"], created_at, loaded, described)


def _with_ids(screening_id: str, created_at: str, loaded: LoadedModel, described: bytes) -> bytes:
    """The response object: the ids and the model, then the described case's fields."""
    head = orjson.dumps({"screening_id": screening_id, "created_at": created_at, "model": loaded.ref})
    return head[:-1] + b"," + described[1:]


def _score_batch(cases: Sequence[Any], *, loaded: LoadedModel) -> list[Assessment]:
    scorer = loaded.scorer
    values = [_values(c) for c in cases]
    codes = scorer.encode_many([{**a, **c, **u} for a, c, u in values])
    return scorer.assess_many(codes, [_interview(c) for c in cases])


def _bulk_row(*, route: str, rows: int, body: bytes, loaded: LoadedModel, principal: Principal) -> dict[str, Any]:
    """The audit row of a bulk call: who, which model, how many rows, and which body (its SHA-256)."""
    return {
        "role": principal.role,
        "key_id": principal.key_id,
        "route": route,
        "rows": rows,
        "model_name": loaded.registered.name,
        "model_version": str(loaded.registered.version),
        "questionnaire_version": _Q.version,
        "input_sha256": hashlib.sha256(body).hexdigest(),
        "outlook_rule": OUTLOOK_RULE,
    }


async def screen_batch(
    cases: Sequence[Any], *, body: bytes, services: Services, principal: Principal, explain: str = "compact"
) -> AsyncIterator[bytes]:
    """Bulk scoring: score a batch, log the call (not its cases), then stream ``{"results": [...]}``.

    Each result is what a screening returns (in the ``explain`` form), with ``row`` (1-based) in
    place of a screening id: bulk scoring is not screening, so nothing is kept per case. The results are rendered chunk
    by chunk in a worker thread, so a batch of 10,000 cases neither holds every explanation in
    memory nor blocks the event loop.
    """
    loaded = serving_model(services)
    assessments = await asyncio.to_thread(_score_batch, cases, loaded=loaded)
    row = _bulk_row(route="batch", rows=len(cases), body=body, loaded=loaded, principal=principal)
    logged = await services.writer.submit(AppendBulkScoring(row))

    def render(start: int, stop: int) -> bytes:
        parts = []
        for i in range(start, stop):
            described = loaded.scorer.render(assessments[i], lang=cases[i].lang, explain=explain)
            head = orjson.dumps({"row": i + 1, "created_at": logged["created_at"], "model": loaded.ref})
            parts.append(head[:-1] + b"," + described[1:])
        return (b"," if start else b"") + b",".join(parts)

    async def stream() -> AsyncIterator[bytes]:
        yield b'{"results":['
        for start in range(0, len(cases), BATCH_CHUNK):
            yield await asyncio.to_thread(render, start, min(len(cases), start + BATCH_CHUNK))
        yield b"]}"

    return stream()


def _invocation_records(records: list[dict[str, Any]], loaded: LoadedModel) -> list[dict[str, Any]]:
    """The engine's flat record of each case, scored as columns (:class:`models.bulk.BulkScorer`, the
    values of :meth:`~models.engine.ScreeningEngine.flat`, as the MLflow pyfunc gives them)."""
    return bulk_records(loaded.bulk.score(loaded.scorer.encode_many(records)))


async def invoke(records: list[dict[str, Any]], *, body: bytes, services: Services, principal: Principal) -> bytes:
    """``/invocations``: the engine's flat record of each case; the call is logged as bulk scoring."""
    loaded = serving_model(services)
    try:
        predictions = await asyncio.to_thread(_invocation_records, records, loaded) if records else []
    except QuestionnaireError as exc:
        raise InvocationError(str(exc)) from None
    row = _bulk_row(route="invocations", rows=len(records), body=body, loaded=loaded, principal=principal)
    await services.writer.submit(AppendBulkScoring(row))
    return orjson.dumps({"predictions": predictions})


# ---------------------------------------------------------------------------- reading cases
def given(values: dict[str, Any]) -> dict[str, Any]:
    """The values of a group that were given: the log leaves out those at their reference level (not
    asked, not recorded), which :func:`serving.auditlog.queries.original_values` fills in when read."""
    return {fid: value for fid, value in values.items() if value != _REFERENCE[fid]}


def with_contributions(record: dict[str, Any], loaded: LoadedModel, tracking_uri: str | None = None) -> dict[str, Any]:
    """A full record whose ``result`` has each outcome's ``contributions``, as the screening gave them.

    Rows logged before migration 0007 stored them. Later rows do not: they are recomputed from the
    original (uncorrected) answers, context and monitoring fields with the logged model version: the
    served model when it is that version, else that version loaded from the registry
    (:func:`serving.registry.load_version`). ``result.contributions_recomputed`` says they were; if
    that version cannot be loaded, each outcome's ``contributions`` is null and
    ``result.contributions_unavailable`` says why.
    """
    result = record["result"]
    outcomes = result.get("outcomes")
    if not isinstance(outcomes, dict) or all("contributions" in o for o in outcomes.values()):
        return record
    model = record["model"]
    try:
        scorer = _scorer_of(model["name"], model["version"], loaded, tracking_uri)
    except (LookupError, ValueError, OSError) as exc:
        note = f"model {model['name']!r} version {model['version']} could not be loaded: {exc}"
        filled = {name: {**o, "contributions": None} for name, o in outcomes.items()}
        return {**record, "result": {**result, "outcomes": filled, "contributions_unavailable": note}}
    original = record["original"]
    codes = scorer.encode({**original["answers"], **original["context"], **original["monitoring"]})
    assessment = scorer.assess(codes)
    filled = {
        name: {**o, "contributions": assessment.outcomes[name].contributions if name in assessment.outcomes else None}
        for name, o in outcomes.items()
    }
    return {**record, "result": {**result, "outcomes": filled, "contributions_recomputed": True}}


def _scorer_of(name: str, version: str, loaded: LoadedModel, tracking_uri: str | None) -> ScreeningEngine:
    if (name, version) == (loaded.registered.name, str(loaded.registered.version)):
        return loaded.scorer
    return _registry_scorer(name, version, tracking_uri)


@functools.lru_cache(maxsize=4)
def _registry_scorer(name: str, version: str, tracking_uri: str | None) -> ScreeningEngine:
    """An older version a logged screening names, loaded once (a few are kept)."""

    return ScreeningEngine(registry.load_version(name=name, version=version, tracking_uri=tracking_uri).model)


def own_cases_only(principal: Principal) -> str | None:
    """The key id whose screenings alone this caller may see or act on; None for any screening.

    A screener's screenings are theirs: they read, decide and correct only what their key
    screened. Other roles that reach a screening route see every screening (in their view).
    """
    return principal.key_id if principal.role == "screener" else None


async def read_case(screening_id: str, *, services: Services, principal: Principal) -> dict[str, Any]:
    """``GET /v1/screenings/{id}`` in the caller's view: a screener's own screening (404 for
    another's), the specialist's assessment view, or the full record (the other roles the route
    allows: supervisors, reviewers, data scientists)."""
    record = await asyncio.to_thread(get_screening, services.engine, screening_id, owner=own_cases_only(principal))
    record = await asyncio.to_thread(with_contributions, record, services.model, services.settings.tracking_uri)
    if principal.role == "screener":
        return screener_view(record, probabilities=shows_probabilities(principal, services))
    if principal.role == "specialist":
        return specialist_view(record)
    return record


async def list_cases(
    *,
    services: Services,
    principal: Principal,
    start: datetime | None,
    end: datetime | None,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    """``GET /v1/screenings``: a screener's own screenings (no probabilities unless shown to
    screeners), every screening for the other roles allowed."""
    return await asyncio.to_thread(
        list_screenings,
        services.engine,
        start=start,
        end=end,
        page=page,
        page_size=page_size,
        owner=own_cases_only(principal),
        probabilities=shows_probabilities(principal, services),
    )
