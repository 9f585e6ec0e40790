"""The fairness report of the model being served, for reviewers.

The report travels with the model: it is the ``fairness/report.{json,html}`` artifact of the
model's MLflow run (written by ``tarozu train``, replaced by ``tarozu audit --model``), read
when the model is loaded (:mod:`serving.registry`). A report made after the model was loaded
is served after ``POST /v1/admin/reload``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response

from serving.deps import Reader
from serving.errors import NotFoundError, error_responses

router = APIRouter(prefix="/v1/audit", tags=["fairness audit"])

NO_REPORT = (
    "the served model, {name} version {version}, has no fairness report in its MLflow run; a reviewer or "
    "data scientist makes one with `tarozu audit --model models:/{name}@{alias}`, then a data scientist "
    "loads it into the service with `POST /v1/admin/reload`"
)


@router.get(
    "/report",
    responses={
        200: {
            "content": {"application/json": {}, "text/html": {}},
            "description": "The report of the served model: JSON, or HTML when the client accepts text/html.",
        },
        **error_responses(401, 403, 404),
    },
    summary="The fairness report of the model being served (HTML or JSON by Accept header)",
)
async def fairness_report(caller: Reader, accept: Annotated[str | None, Header()] = None) -> Response:
    served = caller.services.model.registered
    report = served.fairness_report
    if report is None:
        raise NotFoundError(
            NO_REPORT.format(name=served.name, version=served.version, alias=served.alias or "champion"),
            field="model",
            value=f"{served.name}@{served.version}",
        )
    if accept and "text/html" in accept and "application/json" not in accept.split(",")[0]:
        return Response(report.html, media_type="text/html; charset=utf-8")
    return Response(report.json, media_type="application/json")
