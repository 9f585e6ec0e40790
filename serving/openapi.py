"""OpenAPI for bodies that the handlers parse themselves (see :mod:`serving.parsing`), and
Swagger UI at ``/docs`` from local files.

Such a route documents its body with :func:`json_body`; :func:`install_openapi` adds the
body models' schemas to the document's components so that the references resolve.
:func:`install_docs` serves Swagger UI from the files of the ``fastapi-offline`` package
(pinned in ``constraints.txt``), with its start-up code in ``serving/static/docs.js``: no
CDN, no inline script, so the page works offline and its CSP needs no ``'unsafe-inline'``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from serving.deps import roles_of
from serving.schemas import (
    SCREENING_EXAMPLE,
    BatchRequest,
    CorrectionRequest,
    DecisionRequest,
    InvocationRecord,
    KeyCreate,
    ModelEventRequest,
    OutcomeRequest,
    ScreeningRequest,
)

BODY_MODELS: tuple[type[BaseModel], ...] = (
    InvocationRecord,
    ScreeningRequest,
    BatchRequest,
    DecisionRequest,
    OutcomeRequest,
    CorrectionRequest,
    KeyCreate,
    ModelEventRequest,
)
REF = "#/components/schemas/{model}"
CSV_EXAMPLE = (
    "documents_withheld,debt_bondage,migrant_status,destination,months_abroad,gender,lang,consent\n"
    "yes,no,returnee,RUS,14,man,en,true\n"
    ",,prospective,KAZ,0,woman,ru,true\n"
)


SECURITY_SCHEMES: dict[str, Any] = {
    "BearerKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "X-API-Key: <API key>"},
}


def route_roles(route: Any) -> tuple[str, ...] | None:
    """The roles a route's :func:`serving.deps.require` dependency allows (None: no key needed)."""
    from fastapi.routing import APIRoute

    if not isinstance(route, APIRoute):
        return None
    for dependency in route.dependant.dependencies:
        roles = roles_of(dependency.call)
        if roles is not None:
            return roles
    return None


def json_body(model: type[BaseModel], *, csv: bool = False, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON (and optionally CSV) request body."""
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
    if csv:
        content["text/csv"] = {
            "schema": {
                "type": "string",
                "description": "One column per field id, plus lang, consent, danger and questionnaire_version "
                "(no screener_assessment or case_ref: bulk scoring is not screening).",
            },
            "example": CSV_EXAMPLE,
        }
    return {"requestBody": {"required": required, "content": content}}


def invocations_body() -> dict[str, Any]:
    """The MLflow scoring formats: exactly one of them, records typed from the questionnaire.

    ``dataframe_split`` rows cannot be typed per column in OpenAPI: a value that does not fit
    its column is a 400, as in MLflow's server.
    """
    record = {**SCREENING_EXAMPLE["answers"], **SCREENING_EXAMPLE["context"]}
    columns = list(record)
    records = {"type": "array", "items": {"$ref": REF.format(model="InvocationRecord")}}
    by_column = {
        "type": "object",
        "propertyNames": {"enum": sorted(InvocationRecord.model_fields)},
        "additionalProperties": {"type": "array", "items": {"type": ["string", "integer", "null"]}},
    }
    split = {
        "type": "object",
        "required": ["columns", "data"],
        "additionalProperties": False,
        "properties": {
            "columns": {"type": "array", "uniqueItems": True, "items": {"enum": sorted(InvocationRecord.model_fields)}},
            "data": {"type": "array", "items": {"type": "array", "items": {"type": ["string", "integer", "null"]}}},
            "index": {"type": "array"},
        },
    }
    formats = {
        "dataframe_split": split,
        "dataframe_records": records,
        "inputs": {"oneOf": [records, by_column]},
        "instances": records,
    }
    schema = {
        "oneOf": [
            {"type": "object", "required": [name], "additionalProperties": False, "properties": {name: shape}}
            for name, shape in formats.items()
        ],
        "description": "Exactly one of dataframe_split, dataframe_records, inputs or instances; columns are "
        "questionnaire field ids (as in MLflow's scoring server).",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": schema,
                    "examples": {
                        "dataframe_split": {
                            "value": {"dataframe_split": {"columns": columns, "data": [list(record.values())]}}
                        },
                        "dataframe_records": {"value": {"dataframe_records": [record]}},
                        "inputs": {"value": {"inputs": {k: [v] for k, v in record.items()}}},
                    },
                },
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": ",".join(columns) + "\n" + ",".join(map(str, record.values())),
                },
            },
        }
    }


def install_openapi(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Body schemas, security schemes and each route's roles, added to the generated document.

    ``routers`` are the routers included in ``app`` (without further prefixes).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in BODY_MODELS:
            body = model.model_json_schema(ref_template=REF)
            for name, definition in body.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components[model.__name__] = body
        schema["components"]["securitySchemes"] = SECURITY_SCHEMES
        for route in (r for router in routers for r in router.routes):
            roles = route_roles(route)
            if roles is None:
                continue
            for method in route.methods:  # type: ignore[attr-defined]
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())  # type: ignore[attr-defined]
                if operation is not None:
                    operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
                    operation["description"] = (
                        operation.get("description", "") + f"\n\nRoles allowed: {', '.join(roles)}."
                    ).strip()
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_ASSETS = "/docs/assets"
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


def swagger_ui_dir() -> Path:
    """Swagger UI's files as the ``fastapi-offline`` package ships them."""
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """``/docs``: Swagger UI from local files (see the module's docstring)."""
    page = DOCS_PAGE.format(title=html.escape(app.title), assets=DOCS_ASSETS, openapi_url=html.escape(openapi_url))

    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_dir()), name="docs-assets")
