"""Administration: switch to the current champion, withdraw or reinstate it (the stop procedure),
and manage API keys."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from serving.auditlog.model_events import REINSTATE, WITHDRAW, load_withdrawals
from serving.auditlog.writer import AppendModelEvent
from serving.deps import Admin, DataScientist
from serving.errors import ServiceUnavailableError, error_responses, json_response
from serving.keys import create_key, list_keys, revoke_key
from serving.openapi import json_body
from serving.parsing import parse_json
from serving.registry import BrokenModelError, NoChampionError
from serving.runtime import LoadedModel
from serving.schemas import KeyCreate, KeyCreated, KeyInfo, ModelEvent, ModelEventRequest, ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["administration"])
logger = logging.getLogger(__name__)

RELOAD_FAILED = "the model was not reloaded and the previous one keeps serving: {reason}"


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses=error_responses(401, 403, 503),
    summary="Switch to the registry's current champion",
    description="Loads models:/<name>@champion and swaps it in atomically: requests in flight "
    "finish with the model they started with, and later ones use the new one.",
)
async def reload_model(caller: DataScientist) -> Response:
    async with caller.services.reload_lock:
        try:
            registered = await asyncio.to_thread(caller.services.loader, caller.services.settings)
            loaded = await asyncio.to_thread(LoadedModel.prepare, registered)
        except (NoChampionError, BrokenModelError) as exc:
            raise ServiceUnavailableError(RELOAD_FAILED.format(reason=exc), code="model_unavailable") from None
        previous = caller.services.model
        caller.services.model = loaded  # the one atomic swap
        if caller.services.settings.gc_freeze:
            # Release the previous model (frozen at start-up) and garbage since, then freeze again.
            gc.unfreeze()
            gc.collect()
            gc.freeze()
    logger.info("model reloaded: %s -> %s", previous.ref, loaded.ref)
    return json_response({"previous": previous.ref, "current": loaded.ref, "changed": previous.ref != loaded.ref})


@router.get("/keys", response_model=list[KeyInfo], responses=error_responses(401, 403), summary="List API keys")
async def read_keys(caller: Admin) -> Response:
    return json_response(await asyncio.to_thread(list_keys, caller.services.engine))


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreated,
    responses=error_responses(400, 401, 403, 413, 415, 422),
    openapi_extra=json_body(KeyCreate),
    summary="Create an API key (shown once)",
)
async def add_key(request: Request, caller: Admin) -> Response:
    body = parse_json(await request.body(), KeyCreate, request.headers.get("content-type"))
    created = await asyncio.to_thread(create_key, caller.services.engine, role=body.role, label=body.label)
    await caller.services.keys.refresh()
    return json_response(created, 201)


@router.delete(
    "/keys/{key_id}",
    response_model=KeyInfo,
    responses=error_responses(401, 403, 404),
    summary="Revoke an API key",
)
async def delete_key(key_id: Annotated[str, Path(min_length=1, max_length=32)], caller: Admin) -> Response:
    info = await asyncio.to_thread(revoke_key, caller.services.engine, key_id)
    await caller.services.keys.refresh()
    return json_response(info)


async def _model_event(request: Request, caller: Admin, action: str) -> Response:
    body = parse_json(await request.body(), ModelEventRequest, request.headers.get("content-type"))
    loaded = caller.services.model
    row = {
        "role": caller.principal.role,
        "key_id": caller.principal.key_id,
        "action": action,
        "model_name": loaded.registered.name,
        "model_version": str(loaded.registered.version),
        "reason": body.reason,
    }
    stored = await caller.services.writer.submit(AppendModelEvent(row))
    caller.services.withdrawals = await asyncio.to_thread(load_withdrawals, caller.services.engine)
    logger.warning("model %s version %s: %s by key %s", row["model_name"], row["model_version"], action, row["key_id"])
    return json_response(
        {
            "action": action,
            "model": loaded.ref,
            "reason": stored["reason"],
            "created_at": stored["created_at"],
            "role": stored["role"],
            "key_id": stored["key_id"],
        },
        201,
    )


@router.post(
    "/model:withdraw",
    status_code=201,
    response_model=ModelEvent,
    responses=error_responses(400, 401, 403, 409, 413, 415, 422, 503),
    openapi_extra=json_body(ModelEventRequest),
    summary="Withdraw the served model: the stop procedure",
    description="Logs the withdrawal of the model version being served (in the audit log, so it survives "
    "restarts and reaches every API process within the key refresh interval). While it is withdrawn every "
    "scoring route answers 503 model_withdrawn saying when, by which key, why and how to resume, and /ready "
    "is not ready. The reason is shown to every caller: no names. 409 if it is already withdrawn.",
)
async def withdraw_model(request: Request, caller: Admin) -> Response:
    return await _model_event(request, caller, WITHDRAW)


@router.post(
    "/model:reinstate",
    status_code=201,
    response_model=ModelEvent,
    responses=error_responses(400, 401, 403, 409, 413, 415, 422, 503),
    openapi_extra=json_body(ModelEventRequest),
    summary="Reinstate the withdrawn model: scoring resumes",
    description="Logs the reinstatement of the served model version; 409 if it is not withdrawn.",
)
async def reinstate_model(request: Request, caller: Admin) -> Response:
    return await _model_event(request, caller, REINSTATE)
