"""Screenings: score one case or a batch, then the human decision, outcome and corrections."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from models.questionnaire import load_questionnaire
from serving.auditlog import AppendCorrection, AppendDecision, AppendOutcome
from serving.deps import BulkScorer, CaseReader, Reader, Screener, SettingsDep, Specialist
from serving.errors import InvalidInputError, describe_allowed, error_responses, json_response
from serving.openapi import json_body
from serving.parsing import parse_batch, parse_json
from serving.records import SCREENER_ASSESSMENT, get_screening, list_screenings, section_of
from serving.records import current_value as current_value_of
from serving.schemas import (
    ASSESSMENTS,
    DECISION_REASONS,
    Answers,
    AuditAttributes,
    BatchRequest,
    BatchResponse,
    Context,
    CorrectionRequest,
    CorrectionResponse,
    DecisionRequest,
    DecisionResponse,
    OutcomeRequest,
    OutcomeResponse,
    ScreeningPage,
    ScreeningRecord,
    ScreeningRequest,
    ScreeningResult,
)
from serving.service import screen_batch, screen_one

router = APIRouter(prefix="/v1/screenings", tags=["screenings"])

MAX_PAGE_SIZE = 500
ScreeningId = Annotated[str, Path(min_length=1, max_length=64, description="The id returned by POST /v1/screenings.")]
_GROUPS = {"answers": Answers, "context": Context, "audit": AuditAttributes}


def _created(body: bytes) -> Response:
    return Response(body, status_code=201, media_type="application/json")


@router.post(
    "",
    status_code=201,
    response_model=ScreeningResult,
    responses=error_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=json_body(ScreeningRequest),
    summary="Screen one case",
    description="Scores the case for labour and sexual exploitation with calibrated probabilities, "
    "intervals and bands, explains each score (log-odds contributions per field, largest first), "
    "lists the unanswered questions that would move it most, and logs it all before answering. "
    "The result supports, and does not replace, the screener's judgement.",
)
async def create_screening(request: Request, caller: Screener) -> Response:
    case = parse_json(await request.body(), ScreeningRequest, request.headers.get("content-type"))
    return _created(await screen_one(case, services=caller.services, principal=caller.principal))


@router.post(
    ":batch",
    status_code=201,
    response_model=BatchResponse,
    responses=error_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=json_body(BatchRequest, csv=True),
    summary="Score a batch of cases (JSON or CSV): bulk scoring, not screening",
    description="For the data-scientist role, on data that is not about people being screened now. Up "
    "to the configured maximum of cases (10,000 by default). Every case is validated first; one bad "
    "case refuses the whole batch, naming its row. Cases may not carry screener_assessment or case_ref "
    "(422 bulk_not_screening): no one looked at each case. The call is logged (row count, key id, model "
    "version, time, SHA-256 of the body), not its cases; the results stream back in the order sent, "
    "each with its row number in place of a screening id.",
)
async def create_batch(request: Request, caller: BulkScorer, settings: SettingsDep) -> StreamingResponse:
    raw = await request.body()
    cases = parse_batch(raw, request.headers.get("content-type"), max_cases=settings.max_batch_cases)
    stream = await screen_batch(cases, body=raw, services=caller.services, principal=caller.principal)
    return StreamingResponse(stream, status_code=201, media_type="application/json")


@router.get(
    "",
    response_model=ScreeningPage,
    responses=error_responses(401, 403, 422),
    summary="List logged screenings with their decisions",
)
async def read_screenings(
    caller: Reader,
    start: Annotated[
        datetime | None, Query(alias="from", description="From this time (inclusive, UTC if no zone).")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Up to this time (exclusive).")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Response:
    result = await asyncio.to_thread(
        list_screenings, caller.services.engine, start=start, end=end, page=page, page_size=page_size
    )
    return json_response(result)


@router.get(
    "/{screening_id}",
    response_model=ScreeningRecord,
    responses=error_responses(401, 403, 404, 422),
    summary="One screening: as submitted, as corrected, with its history",
)
async def read_screening(screening_id: ScreeningId, caller: CaseReader) -> Response:
    return json_response(await asyncio.to_thread(get_screening, caller.services.engine, screening_id))


@router.post(
    "/{screening_id}/decision",
    status_code=201,
    response_model=DecisionResponse,
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    openapi_extra=json_body(DecisionRequest),
    summary="Record the screener's decision (once)",
    description="referred, not_referred or needs_more_information. When it differs from the "
    "recommendation a reason from the fixed list is required. A screening has one decision: "
    "a second is refused with 409.",
)
async def record_decision(screening_id: ScreeningId, request: Request, caller: Screener) -> Response:
    body = parse_json(await request.body(), DecisionRequest, request.headers.get("content-type"))
    row = {
        "screening_id": screening_id,
        "role": caller.principal.role,
        "key_id": caller.principal.key_id,
        "decision": body.decision,
        "reason": body.reason,
        "reason_text": body.reason_text,
    }
    stored = await caller.services.writer.submit(AppendDecision(row, reasons=DECISION_REASONS))
    return json_response(
        {
            "screening_id": screening_id,
            "decision": stored["decision"],
            "reason": stored["reason"],
            "recommendation_refer": stored["recommendation_refer"],
            "differs_from_recommendation": stored["differs"],
            "created_at": stored["created_at"],
        },
        201,
    )


@router.post(
    "/{screening_id}/outcome",
    status_code=201,
    response_model=OutcomeResponse,
    responses=error_responses(400, 401, 403, 404, 413, 415, 422, 503),
    openapi_extra=json_body(OutcomeRequest),
    summary="Record the specialist assessment's outcome",
    description="labour, sexual or both (trafficking); labour_rights_violation or other_vulnerability "
    "(not trafficking, but not nothing: the export and the audit keep them apart from none); none; or "
    "unknown. Outcomes are appended: a later one (for example after 'unknown') supersedes, and the "
    "history is kept.",
)
async def record_outcome(screening_id: ScreeningId, request: Request, caller: Specialist) -> Response:
    body = parse_json(await request.body(), OutcomeRequest, request.headers.get("content-type"))
    row = {
        "screening_id": screening_id,
        "role": caller.principal.role,
        "key_id": caller.principal.key_id,
        "outcome": body.outcome,
    }
    stored = await caller.services.writer.submit(AppendOutcome(row))
    return json_response(
        {"screening_id": screening_id, "outcome": stored["outcome"], "created_at": stored["created_at"]}, 201
    )


def reference_of(field: str) -> str:
    """What an absent value of ``field`` means: not asked (questions) or not recorded."""
    if section_of(field) == SCREENER_ASSESSMENT:
        return "unknown"
    return load_questionnaire().field(field).reference


def _checked_value(field: str, value: Any, *, name: str) -> Any:
    """A correction's value, validated like the same field in a screening request."""
    if value is None:
        value = reference_of(field)
    if section_of(field) == SCREENER_ASSESSMENT:
        if value not in ASSESSMENTS:
            raise InvalidInputError(
                f"{name} {value!r} is not allowed for {field!r}",
                field=name,
                value=value,
                allowed=list(ASSESSMENTS),
            )
        return value
    group = _GROUPS[section_of(field)]
    try:
        group.model_validate({field: value})
    except ValidationError:
        info = group.model_fields[field]
        raise InvalidInputError(
            f"{name} {value!r} is not allowed for {field!r}",
            field=name,
            value=value,
            allowed=describe_allowed(info.annotation, info.metadata),
        ) from None
    return value


@router.post(
    "/{screening_id}/corrections",
    status_code=201,
    response_model=CorrectionResponse,
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    openapi_extra=json_body(CorrectionRequest),
    summary="Append a correction of one field",
    description="Names the field, its current value (old_value), the new value and why. The "
    "screening as submitted is never edited; GET /v1/screenings/{id} shows both views. Scores "
    "stay as they were shown at the time. 409 if old_value is not the current value.",
)
async def record_correction(screening_id: ScreeningId, request: Request, caller: Screener) -> Response:
    body = parse_json(await request.body(), CorrectionRequest, request.headers.get("content-type"))
    new = _checked_value(body.field, body.new_value, name="new_value")
    old = reference_of(body.field) if body.old_value is None else body.old_value
    row = {
        "screening_id": screening_id,
        "role": caller.principal.role,
        "key_id": caller.principal.key_id,
        "field": body.field,
        "old_value": orjson.dumps(old).decode(),
        "new_value": orjson.dumps(new).decode(),
        "reason": body.reason,
    }
    stored = await caller.services.writer.submit(AppendCorrection(row, current=current_value_of(body.field)))
    return json_response(
        {
            "screening_id": screening_id,
            "field": stored["field"],
            "old_value": old,
            "new_value": new,
            "created_at": stored["created_at"],
        },
        201,
    )
