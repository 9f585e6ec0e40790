"""The MLflow scoring-server protocol: ``/invocations``, ``/ping``, ``/version``.

``/invocations`` accepts what ``mlflow models serve`` accepts for a DataFrame model
(``dataframe_split``, ``dataframe_records``, ``inputs``, ``instances`` and CSV; columns are
questionnaire field ids) and returns ``{"predictions": [...]}``, the records of
:meth:`models.engine.ScreeningEngine.flat`. Unlike MLflow's server it requires an API key of
the data-scientist role: it is bulk scoring, on data that is not about people being screened
now, never screening. Every call is logged in the audit log (who, when, which model, how many
rows, and the SHA-256 of the body scored), apart from screenings.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.deps import BulkScorer, ServicesDep, SettingsDep
from serving.errors import error_responses, mlflow_error_responses
from serving.openapi import invocations_body
from serving.parsing import parse_invocation
from serving.schemas import Health
from serving.usecases import invoke

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
    description="Bulk scoring, for the data-scientist role on data that is not about people being "
    "screened now. Columns are questionnaire field ids; unknown or missing columns count as unanswered. "
    "Needs an API key (MLflow's own server needs none); every call is logged with its row count.",
    responses={
        200: {"description": '{"predictions": [flat prediction records]}'},
        **mlflow_error_responses(),
        **error_responses(401, 403, 413, 503),
    },
    openapi_extra=invocations_body(),
)
async def invocations(request: Request, caller: BulkScorer, settings: SettingsDep) -> Response:
    raw = await request.body()
    records = parse_invocation(raw, request.headers.get("content-type"), max_rows=settings.max_batch_cases)
    body = await invoke(records, body=raw, services=caller.services, principal=caller.principal)
    return Response(body, media_type="application/json")


@router.get("/ping", response_model=Health, summary="Liveness (MLflow protocol)")
async def ping() -> Response:
    return Response(_OK, media_type="application/json")


@router.get("/version", summary="Tarozu version and the model being served")
async def read_version(services: ServicesDep) -> Response:
    return Response(orjson.dumps({"version": _version(), "model": services.model.ref}), media_type="application/json")
