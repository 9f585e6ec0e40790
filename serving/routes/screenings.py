"""Screenings: score one case or a batch, then the human decision, outcome and corrections."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from models.questionnaire import load_questionnaire
from serving.auditlog.queries import SCREENER_ASSESSMENT, current_value as current_value_of, section_of
from serving.auditlog.writer import AppendCorrection, AppendDecision, AppendOutcome
from serving.deps import (
    SCREENING_ROLES,
    BulkScorer,
    Caller,
    CaseLister,
    CaseReader,
    Decider,
    Screener,
    SettingsDep,
    Specialist,
    caller_principal,
)
from serving.errors import InvalidInputError, describe_allowed, error_responses, json_response
from serving.keys import authorise
from serving.openapi import json_body
from serving.parsing import parse_batch, parse_json
from serving.runtime import Services
from serving.schemas import (
    ASSESSMENTS,
    DECISION_REASONS,
    Answers,
    BatchRequest,
    BatchResponse,
    Context,
    CorrectionRequest,
    CorrectionResponse,
    DecisionRequest,
    DecisionResponse,
    MonitoringFields,
    OutcomeRequest,
    OutcomeResponse,
    ScreenerRecord,
    ScreeningPage,
    ScreeningRecord,
    ScreeningRequest,
    ScreeningResult,
    SpecialistRecord,
)
from serving.usecases import list_cases, own_cases_only, read_case, screen_batch, screen_one

router = APIRouter(prefix="/v1/screenings", tags=["screenings"])
logger = logging.getLogger(__name__)

OWN_CASES = "A screener reaches only the screenings their key made: another's answers 404, as an unknown id does."
OVERRIDE = (
    "A supervisor may act on any screening, as an override: override_reason is required, and the "
    "row logs it with the supervisor's role and key id."
)
OVERRIDE_REQUIRED = (
    "a supervisor acts on another key's screening only as an override: give override_reason "
    "(why the screener who screened the case does not; no names)"
)
NOT_AN_OVERRIDE = (
    "override_reason is for a supervisor acting on another key's screening; a screener decides and "
    "corrects their own screenings, without it"
)
ASSESSMENT_FIXED = (
    "screener_assessment cannot be corrected: it is the screener's own concern, fixed before the score "
    "was shown, and it measures automation bias (how far screeners follow the model); changed after the "
    "score it would measure nothing. Correct the answers, or explain in the decision's reason_text"
)

MAX_PAGE_SIZE = 500
ScreeningId = Annotated[str, Path(min_length=1, max_length=64, description="The id returned by POST /v1/screenings.")]
_GROUPS = {"answers": Answers, "context": Context, "monitoring": MonitoringFields}
ExplainQuery = Annotated[
    Literal["compact", "full"],
    Query(
        description="compact (the default): each outcome's top reasons, what a screener reads; full: each "
        "outcome's explanation instead, every contribution with the base value and log-odds they add up to "
        "(base value and log-odds only where probabilities are shown)."
    ),
]


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
    "intervals and bands, explains each score (its top reasons; with `?explain=full`, every log-odds "
    "contribution per field, largest first, with the base value they add up from), lists the unanswered "
    "questions that would move it most, and logs it before answering (the inputs, the outputs and the "
    "SHA-256 of the response). The result supports, and does not replace, the screener's judgement.",
)
async def create_screening(request: Request, caller: Screener, explain: ExplainQuery = "compact") -> Response:
    case = parse_json(await request.body(), ScreeningRequest, request.headers.get("content-type"))
    return _created(await screen_one(case, services=caller.services, principal=caller.principal, explain=explain))


_EXPLAIN = {b"": "compact", b"explain=compact": "compact", b"explain=full": "full"}


class HotScreeningRoute(BaseRoute):
    """``POST /v1/screenings`` without FastAPI's per-request work (dependencies, parameter models,
    exit stacks), which cost as much CPU as the rest of the request around scoring.

    It answers exactly what :func:`create_screening` answers, the same way: the key and role
    (401, 403), the body (parsed and validated by :func:`serving.parsing.parse_json`), then
    :func:`screen_one`; an error is raised to the app's handlers as from the documented route. It
    takes only the plain requests (no query but ``explain=compact`` or ``explain=full``, no root
    path, the app started): any other falls through to the documented route, which FastAPI
    validates and documents (the OpenAPI schema is generated from it alone).
    """

    def __init__(self, documented: APIRoute) -> None:
        self.documented = documented
        self.path = self.path_format = documented.path
        self.name = documented.name
        self._child = {"endpoint": documented.endpoint, "path_params": {}, "route": documented}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == self.path
            and not scope.get("root_path")
            and scope.get("query_string", b"") in _EXPLAIN
            and getattr(scope["app"].state, "services", None) is not None
        ):
            return Match.FULL, dict(self._child)
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["app"].state.services
        headers = Headers(scope=scope)
        principal = authorise(await caller_principal(scope, headers, services), SCREENING_ROLES)
        body = await _body(receive)
        case = parse_json(body, ScreeningRequest, headers.get("content-type"))
        explain = _EXPLAIN[scope.get("query_string", b"")]
        created = await screen_one(case, services=services, principal=principal, explain=explain)
        # What _created(created) sends, without making a Response: the same two messages, the same headers.
        raw = [(b"content-length", str(len(created)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 201, "headers": raw})
        await send({"type": "http.response.body", "body": created})


async def _body(receive: Receive) -> bytes:
    """The whole request body, as ``Request.body()`` reads it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def hot_routes() -> list[BaseRoute]:
    """The fast routes to put before the API's routers (see :class:`HotScreeningRoute`)."""
    documented = next(
        r for r in router.routes if isinstance(r, APIRoute) and r.path == "/v1/screenings" and r.methods == {"POST"}
    )
    return [HotScreeningRoute(documented)]


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
    "each with its row number in place of a screening id, in the compact form unless `?explain=full`.",
)
async def create_batch(
    request: Request, caller: BulkScorer, settings: SettingsDep, explain: ExplainQuery = "compact"
) -> StreamingResponse:
    raw = await request.body()
    cases = parse_batch(raw, request.headers.get("content-type"), max_cases=settings.max_batch_cases)
    stream = await screen_batch(cases, body=raw, services=caller.services, principal=caller.principal, explain=explain)
    return StreamingResponse(stream, status_code=201, media_type="application/json")


def _owner(caller: Caller, override_reason: str | None) -> str | None:
    """The key id whose screening this must be (a screener's own), or None for a supervisor's override;
    422 for an override without a reason or a reason without an override."""
    if caller.principal.role == "supervisor":
        if override_reason is None:
            raise InvalidInputError(OVERRIDE_REQUIRED, field="override_reason", code="override_reason_required")
        return None
    if override_reason is not None:
        raise InvalidInputError(NOT_AN_OVERRIDE, field="override_reason", code="override_not_allowed")
    return own_cases_only(caller.principal)


def _log_override(what: str, screening_id: str, caller: Caller) -> None:
    logger.info(
        "override: %s on screening %s by %s key %s", what, screening_id, caller.principal.role, caller.principal.key_id
    )


@router.get(
    "",
    response_model=ScreeningPage,
    responses=error_responses(401, 403, 422),
    summary="List logged screenings with their decisions",
    description="Oldest first. A screener lists only the screenings their key made, without the probability "
    "of each type unless the server shows them to screeners; supervisors, reviewers and data scientists "
    "list every screening.",
)
async def read_screenings(
    caller: CaseLister,
    start: Annotated[
        datetime | None, Query(alias="from", description="From this time (inclusive, UTC if no zone).")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Up to this time (exclusive).")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Response:
    result = await list_cases(
        services=caller.services, principal=caller.principal, start=start, end=end, page=page, page_size=page_size
    )
    return json_response(result)


@router.get(
    "/{screening_id}",
    response_model=ScreeningRecord | ScreenerRecord | SpecialistRecord,
    responses=error_responses(401, 403, 404, 422),
    summary="One screening: as submitted, as corrected, with its history (in the caller's view)",
    description="`view` says which: `full` (supervisors, reviewers, data scientists: key ids, audit "
    "attributes, free text, history); `screener` (the screener's own screening: what they entered and "
    "were shown, corrections and decision without key ids, no probabilities unless the server shows them "
    "to screeners; another's screening answers 404); `specialist` (answers and context as corrected, "
    "the result with the tier, the decision and outcomes; no audit attributes, screener's assessment, "
    "free text or key ids).",
)
async def read_screening(screening_id: ScreeningId, caller: CaseReader) -> Response:
    return json_response(await read_case(screening_id, services=caller.services, principal=caller.principal))


@router.post(
    "/{screening_id}/decision",
    status_code=201,
    response_model=DecisionResponse,
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    openapi_extra=json_body(DecisionRequest),
    summary="Record the screener's decision (once)",
    description="referred, not_referred or needs_more_information. When it differs from the "
    "recommendation a reason from the fixed list is required. A screening has one decision: "
    "a second is refused with 409. " + OWN_CASES + " " + OVERRIDE,
)
async def record_decision(screening_id: ScreeningId, request: Request, caller: Decider) -> Response:
    body = parse_json(await request.body(), DecisionRequest, request.headers.get("content-type"))
    owner = _owner(caller, body.override_reason)
    row = {
        "screening_id": screening_id,
        "role": caller.principal.role,
        "key_id": caller.principal.key_id,
        "decision": body.decision,
        "reason": body.reason,
        "reason_text": body.reason_text,
        "override_reason": body.override_reason,
    }
    stored = await caller.services.writer.submit(AppendDecision(row, reasons=DECISION_REASONS, owner=owner))
    if owner is None:
        _log_override("decision", screening_id, caller)
    return json_response(
        {
            "screening_id": screening_id,
            "decision": stored["decision"],
            "reason": stored["reason"],
            "recommendation_refer": stored["recommendation_refer"],
            "differs_from_recommendation": stored["differs"],
            "override": stored["override_reason"] is not None,
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
    "stay as they were shown at the time. 409 if old_value is not the current value. "
    "screener_assessment is never corrected (422 assessment_not_correctable): it is fixed before the "
    "score is shown. " + OWN_CASES + " " + OVERRIDE,
)
async def record_correction(screening_id: ScreeningId, request: Request, caller: Decider) -> Response:
    body = parse_json(await request.body(), CorrectionRequest, request.headers.get("content-type"))
    if body.field == SCREENER_ASSESSMENT:
        raise InvalidInputError(ASSESSMENT_FIXED, field="field", value=body.field, code="assessment_not_correctable")
    owner = _owner(caller, body.override_reason)
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
        "override_reason": body.override_reason,
    }
    stored = await caller.services.writer.submit(
        AppendCorrection(row, current=current_value_of(body.field), owner=owner)
    )
    if owner is None:
        _log_override("correction", screening_id, caller)
    return json_response(
        {
            "screening_id": screening_id,
            "field": stored["field"],
            "old_value": old,
            "new_value": new,
            "override": stored["override_reason"] is not None,
            "created_at": stored["created_at"],
        },
        201,
    )
