"""What clients build on: the questionnaire, the model's card, liveness and readiness."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import Engine, select

from models.outcomes import SPECIALIST_OUTCOMES
from models.questionnaire import ANSWERS, LANGUAGES, NOT_ASKED_REASONS, load_questionnaire
from models.screening import BANDS
from serving.auditlog.database import chain_head
from serving.deps import AnyRole, ServicesDep
from serving.errors import error_responses, json_response
from serving.runtime import LoadedModel
from serving.schemas import (
    ASSESSMENTS,
    DECISION_REASONS,
    Decision,
    Health,
    Lang,
    ModelInfo,
    QuestionnaireOut,
    Ready,
)
from serving.withdrawal import withdrawal_of

router = APIRouter(tags=["questionnaire and model"])

READY_TIMEOUT = 3.0


def _options(field_id: str, levels: tuple[str, ...], lang: str) -> list[dict[str, str]]:
    texts = load_questionnaire().texts(lang)
    return [{"value": level, "label": texts.value(field_id, level)} for level in levels]


@cache
def questionnaire_body(lang: str) -> bytes:
    """The questionnaire in one language, for any client; built once per language."""
    q = load_questionnaire()
    texts = q.texts(lang)
    messages = texts.raw["messages"]

    def other(kind_fields: tuple[Any, ...]) -> list[dict[str, Any]]:
        out = []
        for f in kind_fields:
            item: dict[str, Any] = {"id": f.id, "label": texts.question(f.id)}
            if f.numeric:
                item.update(type="months", min=f.bins[0][1], max=f.bins[-1][2], bins=_options(f.id, f.levels, lang))
            else:
                item.update(type="choice", options=_options(f.id, f.levels, lang))
            out.append(item)
        return out

    body = {
        "version": q.version,
        "lang": lang,
        "answers": [{"value": a, "label": texts.answer(a)} for a in ANSWERS],
        "not_asked_reasons": [{"value": r, "label": texts.not_asked_reason(r)} for r in NOT_ASKED_REASONS],
        "danger": {
            "question": str(texts.raw["danger"]["question"]),
            "options": [{"value": a, "label": str(label)} for a, label in texts.raw["danger"]["options"].items()],
        },
        "dimensions": [
            {
                "id": dim,
                "stage": stage,
                "label": texts.dimension(dim),
                "indicators": [f.id for f in q.indicators if f.dimension == dim],
            }
            for dim, stage in q.dimensions
        ],
        "sections": [
            {
                "id": sec.id,
                "label": texts.section(sec.id),
                "notice": texts.notice(sec.notice) if sec.notice else None,
                "context": list(sec.context),
                "indicators": list(sec.indicators),
            }
            for sec in q.sections
        ],
        "family": {key: str(value) for key, value in texts.raw["family"].items()},
        "indicators": [
            {
                "id": f.id,
                "dimension": f.dimension,
                "question": texts.question(f.id),
                **({"family_question": texts.family_question(f.id)} if f.id in q.family_module else {}),
                "reason": texts.reason(f.id),
                "strength": {"labour": f.delphi_strength("labour"), "sexual": f.delphi_strength("sexual")},
                "options": [{"value": a, "label": texts.answer(a)} for a in f.levels],
                "applies_to": list(f.applies_to),
            }
            for f in q.indicators
        ],
        "context": other(q.context),
        "monitoring": other(q.monitoring),
        "screener_assessment": [{"value": a, "label": str(messages["bands"][a])} for a in ASSESSMENTS],
        "decisions": list(Decision.__args__),  # type: ignore[attr-defined]
        "decision_reasons": list(DECISION_REASONS),
        "specialist_outcomes": list(SPECIALIST_OUTCOMES),
        "messages": messages,
    }
    return orjson.dumps(body)


@router.get(
    "/v1/questionnaire",
    response_model=QuestionnaireOut,
    responses=error_responses(422),
    summary="The questionnaire with its texts, for building forms",
    description=f"Questions, answer options, dimensions, context and audit fields with value labels, "
    f"and the messages of results. Languages: {', '.join(LANGUAGES)}. No key needed.",
)
async def read_questionnaire(lang: Annotated[Lang, Query()] = "en") -> Response:
    return Response(questionnaire_body(lang), media_type="application/json")


def model_info(loaded: LoadedModel) -> dict[str, Any]:
    registered = loaded.registered
    model = registered.model
    outcomes = {}
    for name in model.outcome_names:
        o = model.outcomes[name]
        outcomes[name] = {
            "threshold": o.threshold,
            "high_threshold": o.high_threshold,
            # Lower bound of each referral tier's probability for this outcome (a person's tier is
            # the highest over the outcomes; see models.referral).
            "referral": dict(o.referral),
            "estimator": o.estimator,
            "bands": {
                "low": [0.0, o.threshold],
                "medium": [o.threshold, o.high_threshold],
                "high": [o.high_threshold, 1.0],
            },
        }
    return {
        "name": registered.name,
        "version": str(registered.version),
        "alias": registered.alias,
        "run_id": registered.run_id,
        "fields": list(model.fields),
        "outcomes": outcomes,
        "bands": list(BANDS),
        "metrics": registered.card.get("metrics", {}),
        "card": registered.card,
        "loaded_at": loaded.loaded_at,
    }


@router.get(
    "/v1/model",
    response_model=ModelInfo,
    responses=error_responses(401, 403),
    summary="The model being served: card, version, metrics, thresholds, bands",
)
async def read_model(caller: AnyRole) -> Response:
    return json_response(model_info(caller.services.model))


_ALIVE = orjson.dumps({"status": "ok"})


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
async def health() -> Response:
    return Response(_ALIVE, media_type="application/json")


def _database_ok(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(select(chain_head.c.id).limit(1)).all()


@router.get(
    "/ready",
    response_model=Ready,
    responses={
        503: {
            "model": Ready,
            "description": "Not ready: no model, the database is unreachable, or the model was withdrawn.",
        }
    },
    summary="Readiness: model loaded and audit database reachable",
)
async def ready(services: ServicesDep) -> Response:
    try:
        await asyncio.wait_for(asyncio.to_thread(_database_ok, services.engine), READY_TIMEOUT)
        database = "ok"
    except Exception:
        database = "unreachable"
    model = services.model.ref if services.model is not None else None
    withdrawal = withdrawal_of(services, services.model) if services.model is not None else None
    ok = database == "ok" and model is not None and services.writer.running and withdrawal is None
    body = {"status": "ready" if ok else "not_ready", "model": model, "database": database}
    if withdrawal is not None:
        body["withdrawal"] = withdrawal
    return json_response(body, 200 if ok else 503)
