"""The API's errors as exceptions: each knows its status, code and body.

Kept apart from :mod:`serving.errors` (which turns them into responses and needs the web
framework) so that the audit writer's process, which raises and returns them, starts light.
"""

from __future__ import annotations

from typing import Any

ECHO_MAX_CHARS = 100
MAX_DETAILS = 20


def echo(value: Any) -> Any:
    """What an error body may say back of a value the client sent: scalars only, strings cut short."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, str):
        return value if len(value) <= ECHO_MAX_CHARS else value[:ECHO_MAX_CHARS] + "…"
    return None


class ApiError(Exception):
    """An error the client can fix (or a 5xx it can retry), with everything the body needs."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        allowed: Any = None,
        row: int | None = None,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.allowed = allowed
        self.row = row
        if code is not None:
            self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "value": echo(self.value),
            "allowed": self.allowed,
        }
        if self.row is not None:
            error["row"] = self.row
        if self.details:
            error["details"] = [{**d, "value": echo(d.get("value"))} for d in self.details[:MAX_DETAILS]]
        return {"error": error}


class BadRequestError(ApiError, ValueError):
    status, code = 400, "bad_request"


class UnauthorizedError(ApiError, PermissionError):
    status, code = 401, "unauthorized"


class ForbiddenError(ApiError, PermissionError):
    status, code = 403, "forbidden"


NO_SCREENING = "no screening with id {id!r}"


class NotFoundError(ApiError, LookupError):
    status, code = 404, "not_found"


class ConflictError(ApiError, ValueError):
    status, code = 409, "conflict"


class PayloadTooLargeError(ApiError, ValueError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaTypeError(ApiError, ValueError):
    status, code = 415, "unsupported_media_type"


class InvalidInputError(ApiError, ValueError):
    status, code = 422, "invalid_value"


class ServiceUnavailableError(ApiError, RuntimeError):
    status, code = 503, "unavailable"
