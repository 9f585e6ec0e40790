"""The MLflow scoring-server protocol: ``/invocations``, ``/ping``, ``/health``, ``/version``.

``/invocations`` accepts what ``mlflow models serve`` accepts for a DataFrame model
(``dataframe_split``, ``dataframe_records``, ``inputs``, ``instances`` and CSV; columns are
questionnaire field ids) and returns ``{"predictions": [...]}``, the records of
:meth:`models.engine.ScreeningEngine.flat`. Unlike MLflow's server it requires an API key
(screener or data-scientist) and logs every score to the audit log, because every score
made here must be accountable.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.deps import Scorer, ServicesDep, SettingsDep
from serving.errors import error_responses, mlflow_error_responses
from serving.openapi import invocations_body
from serving.parsing import parse_invocation
from serving.schemas import Health
from serving.service import invoke

router = APIRouter(tags=["mlflow scoring protocol"])

_OK = orjson.dumps({"status": "ok"})


def _version() -> str:
    try:
        return version("tarozu")
    except PackageNotFoundError:
        return "0+unknown"


@router.post(
    "/invocations",
    summary="Score cases with the MLflow scoring-server protocol",
    description="Columns are questionnaire field ids; unknown or missing columns count as "
    "unanswered. Needs an API key (MLflow's own server needs none) and logs every score.",
    responses={
        200: {"description": '{"predictions": [flat prediction records]}'},
        **mlflow_error_responses(),
        **error_responses(401, 403, 413, 503),
    },
    openapi_extra=invocations_body(),
)
async def invocations(request: Request, caller: Scorer, settings: SettingsDep) -> Response:
    records = parse_invocation(
        await request.body(), request.headers.get("content-type"), max_rows=settings.max_batch_cases
    )
    body = await invoke(records, services=caller.services, principal=caller.principal)
    return Response(body, media_type="application/json")


@router.get("/ping", response_model=Health, summary="Liveness (MLflow protocol)")
async def ping() -> Response:
    return Response(_OK, media_type="application/json")


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
async def health() -> Response:
    return Response(_OK, media_type="application/json")


@router.get("/version", summary="Tarozu version and the model being served")
async def read_version(services: ServicesDep) -> Response:
    return Response(orjson.dumps({"version": _version(), "model": services.model.ref}), media_type="application/json")
