"""Pure ASGI middleware: body size limit, security headers, and a last-resort error guard.

Pure ASGI (not ``BaseHTTPMiddleware``) so that they add no task or stream per request.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import INTERNAL

logger = logging.getLogger(__name__)

TOO_LARGE = "the body is larger than {limit} bytes, the limit here; send fewer cases per request"
CSP = "default-src 'self'"
# Swagger UI and ReDoc load their scripts and styles from a CDN and use inline code.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src 'self' blob:"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    headers = [(b"content-security-policy", csp.encode()), *_BASE_HEADERS]
    if not path.startswith("/static"):
        headers.append((b"cache-control", b"no-store"))
    return headers


def _json_message(status: int, body: Mapping[str, object], path: str) -> tuple[Message, Message]:
    content = orjson.dumps(body)
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            *security_headers(path),
        ],
    }
    return start, {"type": "http.response.body", "body": content}


class SecurityHeadersMiddleware:
    """Adds the security headers to every response; turns an escaped exception into a 500.

    The 500 body says nothing about the error, and the log line names only the exception
    type and where it was raised (its message might quote request data).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in security_headers(path) if h[0] not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("unhandled %s on %s %s\n%s", type(exc).__name__, scope.get("method"), path, frames)
            if not started:
                for message in _json_message(500, {"error": {"code": "internal_error", "message": INTERNAL}}, path):
                    await send(message)


class BodyLimitMiddleware:
    """Refuses bodies over a byte limit with 413, before any parsing.

    Checks ``Content-Length`` first, then counts the bytes actually received (a chunked or
    lying client cannot get past it), and hands the app the body it read in one message.
    ``limits`` maps path prefixes to their own limit (batches are larger).
    """

    def __init__(self, app: ASGIApp, *, default: int, limits: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.default = default
        self.limits = tuple(limits)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._refuse(send, limit, path)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit, path)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int, path: str) -> None:
        error = {
            "error": {
                "code": "payload_too_large",
                "message": TOO_LARGE.format(limit=limit),
                "field": None,
                "value": None,
                "allowed": f"at most {limit} bytes",
            }
        }
        for message in _json_message(413, error, path):
            await send(message)
