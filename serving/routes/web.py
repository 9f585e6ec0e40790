"""The web page: ``serving/static/index.html`` at ``/`` (assets under ``/static``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from serving.errors import NotFoundError

router = APIRouter(tags=["web"], include_in_schema=False)

NO_PAGE = "no web page is installed (serving/static/index.html); the API is at /docs"


def static_dir() -> Path:
    return Path(str(resources.files("serving").joinpath("static")))


@router.api_route("/", methods=["GET", "HEAD"])
async def index() -> FileResponse:
    page = static_dir() / "index.html"
    if not page.is_file():
        raise NotFoundError(NO_PAGE)
    return FileResponse(page, media_type="text/html")
