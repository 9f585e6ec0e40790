"""The latest fairness report of the model being served, for reviewers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import Response

from serving.deps import Reader, SettingsDep
from serving.errors import NotFoundError, error_responses

router = APIRouter(prefix="/v1/audit", tags=["fairness audit"])

NO_REPORT = (
    "no fairness report for {name} version {version} yet; a reviewer or data scientist makes one with "
    "`tarozu audit --model models:/{name}@champion`"
)


def _report_for(directory: Path, *, name: str, version: str) -> tuple[Path, Path]:
    json_path, html_path = directory / "latest.json", directory / "latest.html"
    missing = NotFoundError(NO_REPORT.format(name=name, version=version), field="model", value=f"{name}@{version}")
    if not json_path.is_file() or not html_path.is_file():
        raise missing
    try:
        model = orjson.loads(json_path.read_bytes()).get("model", {})
    except orjson.JSONDecodeError:
        raise missing from None
    if str(model.get("name")) != name or str(model.get("version")) != version:
        raise missing
    return json_path, html_path


@router.get(
    "/report",
    responses={
        200: {
            "content": {"application/json": {}, "text/html": {}},
            "description": "The report of the served model: JSON, or HTML when the client accepts text/html.",
        },
        **error_responses(401, 403, 404),
    },
    summary="The latest fairness report of the model being served (HTML or JSON by Accept header)",
)
async def latest_report(
    caller: Reader, settings: SettingsDep, accept: Annotated[str | None, Header()] = None
) -> Response:
    served = caller.services.model.registered
    json_path, html_path = _report_for(Path(settings.audit_report_dir), name=served.name, version=str(served.version))
    if accept and "text/html" in accept and "application/json" not in accept.split(",")[0]:
        return Response(html_path.read_bytes(), media_type="text/html; charset=utf-8")
    return Response(json_path.read_bytes(), media_type="application/json")
