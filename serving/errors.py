"""Domain errors of the API and the one JSON error body they all become.

Every 4xx and 5xx leaves as ``{"error": {"code", "message", "field", "value", "allowed"}}``
(``row`` too for batches), except ``/invocations``, which answers like the MLflow scoring
server: ``{"error_code": "BAD_REQUEST", "message": ...}``. No body carries a stack trace,
and values of free-text fields (case references, reasons) are never echoed.

Error bodies echo scalars only: a number, a boolean or a string cut to
:data:`ECHO_MAX_CHARS`; an object or a list sent where it does not belong is not given back
(a deeply nested one once made the echo itself fail). A body lists at most
:data:`MAX_DETAILS` problems. Each refused request is logged in one line that names the
route, the status, the code and the field, never the value, so a log line stays short
whatever was sent.
"""

from __future__ import annotations

import logging
import traceback
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, get_args, get_origin

import annotated_types
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.apierrors import (  # defined there, for the audit writer's process; imported from here by the API
    ECHO_MAX_CHARS as ECHO_MAX_CHARS,
    MAX_DETAILS as MAX_DETAILS,
    NO_SCREENING as NO_SCREENING,
    ApiError as ApiError,
    BadRequestError as BadRequestError,
    ConflictError as ConflictError,
    ForbiddenError as ForbiddenError,
    InvalidInputError as InvalidInputError,
    NotFoundError as NotFoundError,
    PayloadTooLargeError as PayloadTooLargeError,
    ServiceUnavailableError as ServiceUnavailableError,
    UnauthorizedError as UnauthorizedError,
    UnsupportedMediaTypeError as UnsupportedMediaTypeError,
    echo as echo,
)
from serving.schemas import CASE_RULES, FREE_TEXT_FIELDS, ErrorBody, MlflowError

logger = logging.getLogger(__name__)

MALFORMED_JSON = "the body is not valid JSON ({detail}); send a JSON object"
NOT_AN_OBJECT = "the body must be a JSON object"
UNSUPPORTED_MEDIA = "content type {found!r} is not accepted here; send {allowed}"
UNKNOWN_FIELD = "unknown field {field!r}; allowed fields here are listed in 'allowed'"
MISSING_FIELD = "field {field!r} is required"
BAD_VALUE = "field {field!r} has a value that is not allowed; allowed: see 'allowed'"
INTERNAL = "internal error; nothing was written to the audit log for this request. Retry, and report it if it persists"
REDACTED = "<redacted>"
LOG_FIELD_MAX_CHARS = 80
TRACEBACK_FRAMES = 8
TRACEBACK_MAX_CHARS = 4000


def short_traceback(exc: BaseException) -> str:
    """The last frames of ``exc``'s traceback, bounded in size (a RecursionError has a thousand)."""
    frames = "".join(traceback.format_tb(exc.__traceback__, limit=-TRACEBACK_FRAMES))
    return frames[-TRACEBACK_MAX_CHARS:]


class InvocationError(ValueError):
    """A bad ``/invocations`` request, answered in the MLflow scoring server's format."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


# ------------------------------------------------------------------ validation errors
def _strip_none(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for option in _strip_none(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
        if get_origin(option) is list:
            inner = _model_of(get_args(option)[0])
            if inner is not None:
                return inner
    return None


def describe_allowed(annotation: Any, metadata: Sequence[Any] = ()) -> Any:
    """A readable statement of what a field accepts, from its type annotation."""
    options: list[Any] = []
    for option in _strip_none(annotation):
        origin = get_origin(option)
        if origin is Literal:
            options.extend(get_args(option))
        elif origin is typing.Annotated:
            base, *meta = get_args(option)
            expanded = [m for item in meta for m in (item.metadata if isinstance(item, FieldInfo) else [item])]
            options.append(describe_allowed(base, [*metadata, *expanded]))
        elif isinstance(option, type) and issubclass(option, BaseModel):
            options.append({"object with fields": sorted(option.model_fields)})
        elif origin is list:
            options.append("list")
        elif option is int:
            bounds = {k: getattr(m, k) for m in metadata for k in ("ge", "le") if hasattr(m, k)}
            if bounds:
                options.append(f"whole number from {bounds.get('ge', '-inf')} to {bounds.get('le', 'inf')}")
            else:
                options.append("whole number")
        elif option is str:
            longest = [m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)]
            options.append(f"text of at most {longest[0]} characters" if longest else "text")
        else:
            options.append(getattr(option, "__name__", str(option)))
    if get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in get_args(annotation):
        options.append(None)
    return options if len(options) != 1 else options[0]


def _resolve(model: type[BaseModel], loc: Sequence[Any]) -> tuple[list[str | int], type[BaseModel], str | None]:
    """The field path named by a pydantic ``loc``, the model holding its last field, and that field.

    Union tags that pydantic adds after a leaf (``constrained-int``, ``literal['unknown']``) are
    dropped; an unknown key (``extra_forbidden``) ends the path.
    """
    path: list[str | int] = []
    current: type[BaseModel] | None = model
    parent, leaf = model, None
    for part in loc:
        if isinstance(part, int):
            path.append(part)
            continue
        if current is None:
            break
        path.append(part)
        parent, leaf = current, part
        if part not in current.model_fields:
            break
        current = _model_of(current.model_fields[part].annotation)
    return path, parent, leaf


def _first_int(path: Sequence[str | int]) -> tuple[int | None, list[str | int]]:
    """Split a batch path ``cases.3.answers.x`` into the 1-based row and the rest."""
    if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
        return path[1] + 1, list(path[2:])
    return None, list(path)


def validation_error(exc: ValidationError, model: type[BaseModel], *, row_offset: int = 0) -> ApiError:
    """An :class:`ApiError` naming the field, the value and what is allowed instead."""
    errors = exc.errors(include_url=False, include_context=False)
    details: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    malformed = None
    for err in errors:
        if err["type"] == "json_invalid":
            malformed = err
            break
        if err["type"] == "model_type" and not err["loc"]:
            return BadRequestError(NOT_AN_OBJECT, code="not_an_object")
        path, parent, leaf = _resolve(model, err["loc"])
        key = tuple(path)
        if key in seen:
            continue
        if len(details) >= MAX_DETAILS:
            break
        seen.add(key)
        row, rest = _first_int(path)
        if row is not None:
            row += row_offset
        field = echo(".".join(str(p) for p in rest)) or None  # an unknown key can be megabytes long
        value = err.get("input")
        allowed: Any
        if err["type"] in CASE_RULES:
            # a rule of the whole case: its own code and message, nothing echoed
            code, value, allowed, message = err["type"], None, None, str(err["msg"])
        elif err["type"] == "extra_forbidden":
            code, allowed = "unknown_field", sorted(parent.model_fields)
            message = UNKNOWN_FIELD.format(field=field)
        elif err["type"] == "missing":
            info = parent.model_fields.get(leaf or "")
            code, value = "missing_field", None
            allowed = describe_allowed(info.annotation, info.metadata) if info else None
            message = MISSING_FIELD.format(field=field)
        else:
            info = parent.model_fields.get(leaf or "")
            code = "invalid_value"
            allowed = describe_allowed(info.annotation, info.metadata) if info else None
            message = f"{BAD_VALUE.format(field=field)} ({err['msg']})"
        if value is not None and (leaf in FREE_TEXT_FIELDS or (isinstance(value, str) and len(value) > 200)):
            value = REDACTED
        value = echo(value)
        details.append(
            {"code": code, "message": message, "field": field, "value": value, "allowed": allowed, "row": row}
        )
    if malformed is not None:
        detail = str(malformed.get("msg", "")).removeprefix("Invalid JSON: ")
        return BadRequestError(MALFORMED_JSON.format(detail=detail), code="malformed_json")
    first = details[0]
    status_error = InvalidInputError(
        first["message"],
        field=first["field"],
        value=first["value"],
        allowed=first["allowed"],
        row=first["row"],
        code=first["code"],
        details=details if len(details) > 1 else None,
    )
    return status_error


# ------------------------------------------------------------------ handlers
def log_refusal(method: str, path: str, status: int, code: str, field: str | None = None) -> None:
    """One bounded line per refused request: route, status, code and field, never the value."""
    named = field if field is None or len(field) <= LOG_FIELD_MAX_CHARS else field[:LOG_FIELD_MAX_CHARS] + "…"
    logger.info("refused %s %s: %d %s field=%s", method, path[:200], status, code, named)


def _api_error_response(exc: ApiError, request: Request | None = None) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="tarozu"'} if exc.status == 401 else None
    if request is not None:
        log_refusal(request.method, request.url.path, exc.status, exc.code, exc.field)
    return json_response(exc.body(), exc.status, headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _api_error_response(exc, request)


async def _invocation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvocationError)
    log_refusal(request.method, request.url.path, exc.status, "BAD_REQUEST")
    return json_response({"error_code": "BAD_REQUEST", "message": exc.message[:2000]}, exc.status)


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    err: dict[str, Any] = next(iter(exc.errors()), {})
    loc = [p for p in err.get("loc", ()) if p not in ("query", "path", "body", "header")]
    field = ".".join(str(p) for p in loc) or None
    return _api_error_response(
        InvalidInputError(
            f"parameter {field!r}: {err.get('msg', 'invalid value')}",
            field=field,
            value=err.get("input") if field not in FREE_TEXT_FIELDS else REDACTED,
            allowed=(err.get("ctx") or {}).get("expected"),
        ),
        request,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    allowed = None
    if exc.status_code == 405:
        # Starlette lists the methods of the first route matching the path only.
        allowed = sorted(_methods_for(request))
        headers["Allow"] = ", ".join(allowed)
    error = ApiError(str(exc.detail), code=code, allowed=allowed)
    error.status = exc.status_code
    return json_response(error.body(), exc.status_code, headers or None)


def _methods_for(request: Request) -> set[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for router in getattr(request.app.state, "routers", ()):
        for route in router.routes:
            match, _ = route.matches({**request.scope, "method": "GET"})
            route_methods = getattr(route, "methods", None)
            if match != Match.NONE and route_methods:
                methods |= set(route_methods)
    return methods or {"GET"}


async def _unhandled(request: Request, exc: Exception) -> Response:
    # The message of an unexpected exception may quote request data: log only where it came from.
    frames = short_traceback(exc)
    logger.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames)
    return json_response({"error": {"code": "internal_error", "message": INTERNAL}}, 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InvocationError, _invocation_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status documented with the error body."""
    descriptions = {
        400: "Malformed JSON or a body that is not an object.",
        401: "No API key, or an unknown or revoked one.",
        403: "The key's role may not do this.",
        404: "No such screening.",
        409: "Conflicts with what is already logged.",
        413: "Body or batch larger than allowed.",
        415: "Content type not accepted.",
        422: "A field, value or parameter that is not allowed; the body names it.",
        503: "The audit log or the model is unavailable; nothing was written.",
    }
    return {s: {"model": ErrorBody, "description": descriptions.get(s, "Error.")} for s in statuses}


def mlflow_error_responses() -> dict[int | str, dict[str, Any]]:
    return {
        400: {"model": MlflowError, "description": "Bad body, in the MLflow scoring server's format."},
        415: {"model": MlflowError, "description": "Content type other than JSON or CSV."},
    }
