"""Pure ASGI middleware: security headers and a last-resort error guard, authentication before
the body, and the body's limits (size, then nesting depth and width) before anything parses it.

Pure ASGI (not ``BaseHTTPMiddleware``) so that they add no task or stream per request. In the
order a request meets them: :class:`SecurityHeadersMiddleware`, CORS (if configured),
:class:`AuthGateMiddleware`, :class:`BodyLimitMiddleware`, the app.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.deps import GATE_PRINCIPAL, presented_key
from serving.errors import INTERNAL, UnauthorizedError, log_refusal, short_traceback
from serving.keys import key_id_of
from serving.openapi import route_roles as roles_of_route
from serving.ratelimit import AuthFailures, client_name, retry_after_header

logger = logging.getLogger(__name__)
auth_logger = logging.getLogger("serving.auth")

TOO_LARGE = "the body is larger than {limit} bytes, the limit here; send fewer cases per request"
TOO_DEEP = "the body nests objects or lists more than {limit} deep; Tarozu's bodies need at most 4"
TOO_WIDE = "an object or list in the body has more than {limit} members, the limit here"
TOO_MANY_FAILURES = (
    "too many failed API keys from this address or for this key id; wait {seconds} s (Retry-After) and check the key"
)
_CSP_COMMON = "base-uri 'none'; frame-ancestors 'none'; form-action 'self'; object-src 'none'"
CSP = f"default-src 'self'; {_CSP_COMMON}"
# Swagger UI, served from local files: its stylesheet draws icons from data: URLs; no inline code.
DOCS_CSP = f"default-src 'self'; img-src 'self' data:; {_CSP_COMMON}"
DOCS_PREFIX = "/docs"
REPORT_PATH = "/v1/audit/report"
_BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def _headers_of(*, docs: bool, static: bool) -> tuple[tuple[bytes, bytes], ...]:
    headers = [(b"content-security-policy", (DOCS_CSP if docs else CSP).encode()), *_BASE_HEADERS]
    if not static:
        headers.append((b"cache-control", b"no-store"))
    return tuple(headers)


_SECURITY_HEADERS = {(d, s): _headers_of(docs=d, static=s) for d in (False, True) for s in (False, True)}
"""The security headers of each kind of path, made once: they are added to every response."""


def _security_headers(path: str) -> tuple[tuple[bytes, bytes], ...]:
    docs = path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/")
    return _SECURITY_HEADERS[docs, path.startswith("/static")]


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    return list(_security_headers(path))


# ---------------------------------------------------------------------------- the fairness report
_STYLE_ELEMENT = re.compile(rb"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
_STYLE_ATTRIBUTE = re.compile(rb"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def _sha256(text: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text).digest()).decode() + "'"


def report_csp(page: bytes) -> str:
    """The CSP of a fairness report: exactly its own inline styles, by hash, and nothing else.

    The report is one self-contained file (``tarozu audit`` writes it; it is also opened from
    disk): a ``<style>`` element and the figures' SVG ``style`` attributes, no script. Each is
    allowed by its SHA-256 (``'unsafe-hashes'`` covers attributes), so a style that is not in the
    file, or any script, is still refused.
    """
    styles = {_sha256(m) for m in _STYLE_ELEMENT.findall(page)}
    for double, single in _STYLE_ATTRIBUTE.findall(page):
        styles.add(_sha256(html.unescape((double or single).decode("utf-8", "replace")).encode()))
    style_src = " ".join(["'unsafe-hashes'", *sorted(styles)]) if styles else "'none'"
    return (
        f"default-src 'none'; style-src {style_src}; img-src data:; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"
    )


def _json_message(
    status: int, body: Mapping[str, object], path: str, extra: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[Message, Message]:
    content = orjson.dumps(body)
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            *extra,
            *security_headers(path),
        ],
    }
    return start, {"type": "http.response.body", "body": content}


async def _send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    path: str,
    *,
    allowed: Any = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    body = {"error": {"code": code, "message": message, "field": None, "value": None, "allowed": allowed}}
    for part in _json_message(status, body, path, headers):
        await send(part)


class SecurityHeadersMiddleware:
    """Adds the security headers to every response; turns an escaped exception into a 500.

    The 500 body says nothing about the error, and the log line names only the exception
    type and where it was raised (its message might quote request data), in a bounded number
    of frames. An HTML fairness report gets a CSP that allows exactly its own inline styles.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        started = False
        held: Message | None = None  # a report's start, held until its body is known
        chunks: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal started, held
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [h for h in _security_headers(path) if h[0] not in names]
                message = {**message, "headers": [*headers, *extra]}
                if path == REPORT_PATH and Headers(raw=headers).get("content-type", "").startswith("text/html"):
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                page = b"".join(chunks)
                csp = report_csp(page).encode()
                headers = [(n, csp if n.lower() == b"content-security-policy" else v) for n, v in held["headers"]]
                start, held = {**held, "headers": headers}, None
                await send(start)
                message = {"type": "http.response.body", "body": page}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            logger.error(
                "unhandled %s on %s %s\n%s", type(exc).__name__, scope.get("method"), path, short_traceback(exc)
            )
            if not started:
                for message in _json_message(500, {"error": {"code": "internal_error", "message": INTERNAL}}, path):
                    await send(message)


# ---------------------------------------------------------------------------- authentication first
_KEY_ID = re.compile(r"[A-Za-z0-9-]{1,32}")


def loggable_key_id(key: str | None) -> str | None:
    """The key id of a presented key, if it looks like one (it goes into logs: never free text)."""

    key_id = key_id_of(key) if key else None
    return key_id if key_id is not None and _KEY_ID.fullmatch(key_id) else None


def route_roles(scope: Scope) -> tuple[str, ...] | None:
    """The roles of the route that will answer this request (None: it needs no key, or none matches).

    Looks through the API's routers (``app.state.routers``, as :func:`serving.app.create_app`
    includes them, without further prefixes) the way the router will: the first route that
    matches path and method.
    """

    state = getattr(scope.get("app"), "state", None)
    return _roles_in(getattr(state, "routers", ()), scope)


def _roles_in(routers: Sequence[Any], scope: Scope) -> tuple[str, ...] | None:
    for router in routers:
        for route in router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return roles_of_route(route)
    return None


ROLE_CACHE_SIZE = 4096
"""Requests (method, root path, path) whose route's roles the gate remembers; emptied when full."""


class RouteRolesCache:
    """:func:`route_roles`, remembered by method, root path and path: what a route matches on.

    Searching every route for every request cost the gate more than the key check. The answer
    depends on the routers' routes alone, so the cache is emptied whenever a router's list of
    routes is replaced, grows or shrinks; and it holds at most ``size`` requests (paths with ids
    in them are many), so a stream of distinct paths costs a search each, as before, not memory.
    """

    def __init__(self, size: int = ROLE_CACHE_SIZE) -> None:
        self.size = size
        self._routers: Sequence[Any] | None = None
        self._shape: tuple[tuple[int, int], ...] = ()
        self._roles: dict[tuple[str, str, str], tuple[str, ...] | None] = {}

    def __call__(self, scope: Scope) -> tuple[str, ...] | None:
        state = getattr(scope.get("app"), "state", None)
        routers = getattr(state, "routers", ())
        shape = tuple((id(r.routes), len(r.routes)) for r in routers)
        if routers is not self._routers or shape != self._shape:
            self._routers, self._shape, self._roles = routers, shape, {}
        key = (scope.get("method", ""), scope.get("root_path", ""), scope.get("path", ""))
        try:
            return self._roles[key]
        except KeyError:
            pass
        roles = _roles_in(routers, scope)
        if len(self._roles) >= self.size:
            self._roles = {}
        self._roles[key] = roles
        return roles


class AuthGateMiddleware:
    """Checks the API key from the headers before the body is read, and limits failed keys.

    A request to a route that needs a key is answered here with 401 (no key, or a wrong one)
    or 429 (too many failures from its client address or for its key id, with Retry-After),
    and its body is never read. Every failed key is logged with its key id and the client,
    never the key. A right key is never refused for its key id's failures (others may know a
    key id; they cannot lock its owner out), but a client address over its limit is refused
    whatever key it sends. The principal of an admitted key is left in the scope
    (:data:`serving.deps.GATE_PRINCIPAL`), where the route takes it and checks its role; a route
    reached without the gate checks the key itself.
    """

    def __init__(self, app: ASGIApp, *, failures: AuthFailures) -> None:
        self.app = app
        self.failures = failures
        self.route_roles = RouteRolesCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.route_roles(scope) is None:
            await self.app(scope, receive, send)
            return
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        if services is None:
            await self.app(scope, receive, send)
            return

        path, method = scope.get("path", ""), scope.get("method", "")
        client = client_name((scope.get("client") or (None, None))[0])
        wait = self.failures.clients.retry_after(client)
        if wait > 0:
            await self._too_many(send, wait, path, method, client, None)
            return
        key: str | None = None
        try:
            key = presented_key(Headers(scope=scope))
            principal = await services.keys.authenticate(key)
        except UnauthorizedError as exc:
            await self._refused(send, exc, key, path, method, client)
            return
        scope[GATE_PRINCIPAL] = principal  # the route checks the role of the key admitted here
        await self.app(scope, receive, send)

    async def _refused(
        self, send: Send, exc: UnauthorizedError, key: str | None, path: str, method: str, client: str | None
    ) -> None:
        if exc.code == "missing_api_key":
            log_refusal(method, path, 401, exc.code)
            await self._unauthorized(send, exc, path)
            return
        key_id = loggable_key_id(key)
        locked = self.failures.key_ids.retry_after(key_id)
        by_client = self.failures.clients.fail(client)
        by_key = self.failures.key_ids.fail(key_id)
        auth_logger.warning(
            "API key refused (%s): key_id=%s client=%s %s %s; failures in window: client %d, key id %d",
            exc.code,
            key_id or "-",
            client or "-",
            method,
            path[:200],
            by_client,
            by_key,
        )
        if locked > 0:
            await self._too_many(send, locked, path, method, client, key_id)
            return
        await self._unauthorized(send, exc, path)

    @staticmethod
    async def _unauthorized(send: Send, exc: UnauthorizedError, path: str) -> None:
        await _send_error(
            send, 401, exc.code, exc.message, path, headers=[(b"www-authenticate", b'Bearer realm="tarozu"')]
        )

    @staticmethod
    async def _too_many(
        send: Send, wait: float, path: str, method: str, client: str | None, key_id: str | None
    ) -> None:
        seconds = retry_after_header(wait)
        auth_logger.warning(
            "API key attempt refused (too many failures): key_id=%s client=%s %s %s; retry after %s s",
            key_id or "-",
            client or "-",
            method,
            path[:200],
            seconds,
        )
        await _send_error(
            send,
            429,
            "too_many_failures",
            TOO_MANY_FAILURES.format(seconds=seconds),
            path,
            headers=[(b"retry-after", seconds.encode())],
        )


# ---------------------------------------------------------------------------- the body
# A JSON string, terminated or not: the possessive loop never backtracks, so a body full of
# quotes and backslashes is scanned once (a plain alternation takes quadratic time on it).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_STRUCTURE = bytes(range(256)).translate(None, b"[]{},")
_NOT_QUOTE_OR_STRUCTURE = bytes(range(256)).translate(None, b'"[]{},')
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[list(b"[{")] = 1
_CLOSE = np.zeros(256, dtype=np.int8)
_CLOSE[list(b"]}")] = 1


def structure(body: bytes) -> np.ndarray:
    """The brackets and commas of ``body`` outside its strings, in order, as bytes (uint8).

    Without a backslash in the body, every quote opens or closes a string: the body is cut down to
    its quotes, brackets and commas (at C speed), and what lies between the first quote and the
    second, the third and the fourth and so on (to the end if one is left open) is dropped. A body
    with a backslash is read by :func:`structure_by_scan`, which knows escapes.
    """
    if b"\\" in body:
        return structure_by_scan(body)
    kept = np.frombuffer(body.translate(None, _NOT_QUOTE_OR_STRUCTURE), dtype=np.uint8)
    quote = kept == ord('"')
    outside = (np.cumsum(quote, dtype=np.int64) & 1) == 0  # a closing quote brings the count back to even
    return kept[outside & ~quote]


def structure_by_scan(body: bytes) -> np.ndarray:
    """:func:`structure` by scanning the strings out one after another, escapes and all (linear too,
    and slower)."""
    return np.frombuffer(_JSON_STRING.sub(b"", body).translate(None, _STRUCTURE), dtype=np.uint8)


def json_shape(body: bytes, *, max_depth: int, max_width: int) -> tuple[str, int] | None:
    """``("depth", limit)`` or ``("width", limit)`` if the JSON ``body`` nests or spreads too far.

    Strings are skipped (brackets in text do not count); the rest is looked at as its brackets
    and commas only. Width is the members of one object or list. A malformed body is left to
    the parser, which says where it breaks. Linear in the body's size.
    """
    # Brackets and commas counted anywhere, strings included, can only overstate depth and width:
    # a body within the limits by these counts is within them everywhere (most bodies, at C speed).
    if body.count(b"[") + body.count(b"{") <= max_depth and body.count(b",") < max_width:
        return None
    codes = structure(body)
    if not codes.size:
        return None
    opens, closes = _OPEN[codes], _CLOSE[codes]
    depth_after = np.cumsum(opens.astype(np.int32) - closes)
    deepest = int(depth_after.max())
    if deepest > max_depth:
        return "depth", max_depth
    if len(codes) <= max_width:  # fewer commas than the limit in the whole body
        return None
    # The depth of the container each token belongs to: an opener and its commas at the depth
    # after it, a closer one deeper than the depth after it.
    container = depth_after + closes
    commas = codes == ord(",")
    for depth in range(1, deepest + 1):
        at = container == depth
        ids = np.cumsum(opens[at])  # the n-th container at this depth
        ids_of_commas = ids[commas[at]]
        if ids_of_commas.size and int(np.bincount(ids_of_commas).max()) + 1 > max_width:
            return "width", max_width
    return None


def _is_json(content_type: str | None) -> bool:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    return mime in ("", "application/json") or (mime.startswith("application/") and mime.endswith("+json"))


class BodyLimitMiddleware:
    """Refuses bodies over a byte limit with 413, then JSON bodies that nest or spread too far.

    Checks ``Content-Length`` first, then counts the bytes actually received (a chunked or
    lying client cannot get past it), and hands the app the body it read in one message.
    ``limits`` maps path prefixes to their own size limit and ``widths`` to their own width
    (a batch is larger, and its list of cases wider). Too deep is 400 (in MLflow's format on
    ``/invocations``), too wide 413: the parser never sees either.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        limits: Sequence[tuple[str, int]] = (),
        max_depth: int = 16,
        max_width: int = 1000,
        widths: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.default = default
        self.limits = tuple(limits)
        self.max_depth = max_depth
        self.max_width = max_width
        self.widths = tuple(widths)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    def width_for(self, path: str) -> int:
        for prefix, width in self.widths:
            if path.startswith(prefix):
                return width
        return self.max_width

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, limit, path, scope)
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
                await self._too_large(send, limit, path, scope)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type")):
            problem = json_shape(body, max_depth=self.max_depth, max_width=self.width_for(path))
            if problem is not None:
                await self._misshapen(send, problem, path, scope)
                return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(send: Send, limit: int, path: str, scope: Scope) -> None:
        log_refusal(scope.get("method", ""), path, 413, "payload_too_large")
        await _send_error(
            send, 413, "payload_too_large", TOO_LARGE.format(limit=limit), path, allowed=f"at most {limit} bytes"
        )

    @staticmethod
    async def _misshapen(send: Send, problem: tuple[str, int], path: str, scope: Scope) -> None:
        kind, limit = problem
        if kind == "depth":
            code, status, message = "too_deeply_nested", 400, TOO_DEEP.format(limit=limit)
        else:
            code, status, message = "too_many_members", 413, TOO_WIDE.format(limit=limit)
        log_refusal(scope.get("method", ""), path, status, code)
        if path == "/invocations" and status == 400:  # MLflow's scoring-server format there
            body = {"error_code": "BAD_REQUEST", "message": message}
            for part in _json_message(400, body, path):
                await send(part)
            return
        allowed = f"at most {limit} levels" if kind == "depth" else f"at most {limit} members"
        await _send_error(send, status, code, message, path, allowed=allowed)
