"""``POST /v1/screenings`` has a fast route (no FastAPI dependency machinery) before its documented one.

Whatever route answers, a caller gets the same thing: the same status, the same body (but for the
new screening's id and time) and the same headers, for good and bad requests alike. A query string
the fast route does not take (here one with an extra parameter, which FastAPI ignores) is answered by
the documented route, so the two are compared request by request.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from serving.routes.screenings import HotScreeningRoute
from tests.support.api import auth, example

URL = "/v1/screenings"
DOCUMENTED = "via=documented"  # FastAPI ignores it; the fast route does not take it
VOLATILE = {"screening_id", "created_at", "date", "x-request-id", "content-length", "ratelimit-remaining"}


def _request(client: TestClient, keys: dict[str, str], kind: str, query: str) -> Any:
    headers = {**auth(keys, "screener"), "content-type": "application/json"}
    body: bytes = orjson.dumps(example())
    if kind == "no key":
        headers = {"content-type": "application/json"}
    elif kind == "wrong role":
        headers = {**auth(keys, "reviewer"), "content-type": "application/json"}
    elif kind == "not json":
        body = b"{not json"
    elif kind == "no consent":
        body = orjson.dumps({**example(), "consent": False})
    elif kind == "unknown answer":
        body = orjson.dumps(example(answers={**example()["answers"], "debt_bondage": "perhaps"}))
    elif kind == "wrong content type":
        headers["content-type"] = "text/plain"
    return client.post(f"{URL}?{query}", content=body, headers=headers)


def _comparable(response: Any) -> tuple[int, Any, dict[str, str]]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE}
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VOLATILE}
    return response.status_code, body, headers


@pytest.mark.parametrize(
    "kind", ["ok", "no key", "wrong role", "not json", "no consent", "unknown answer", "wrong content type"]
)
@pytest.mark.parametrize("explain", ["", "explain=full"])
def test_the_fast_route_answers_as_the_documented_one(
    client: TestClient, keys: dict[str, str], kind: str, explain: str
) -> None:
    fast = _request(client, keys, kind, explain)
    documented = _request(client, keys, kind, f"{explain}&{DOCUMENTED}" if explain else DOCUMENTED)
    assert _comparable(fast) == _comparable(documented)
    assert (fast.status_code == 201) is (kind == "ok")


def test_the_fast_route_takes_plain_requests_only(client: TestClient) -> None:
    route = client.app.router.routes[0]  # type: ignore[attr-defined]
    assert isinstance(route, HotScreeningRoute)
    scope = {"type": "http", "method": "POST", "path": URL, "app": client.app, "root_path": ""}
    from starlette.routing import Match

    for query, taken in ((b"", True), (b"explain=full", True), (b"explain=compact", True), (b"explain=x", False)):
        assert (route.matches({**scope, "query_string": query})[0] is Match.FULL) is taken, query
    assert route.matches({**scope, "query_string": b"", "method": "GET"})[0] is Match.NONE


@pytest.mark.parametrize("query", ["", DOCUMENTED])
def test_the_fast_route_sends_what_a_response_object_sends(
    client: TestClient, keys: dict[str, str], query: str
) -> None:
    """The fast route sends its two messages itself: the same headers, in the same order, byte for byte,
    as the documented route's ``Response`` (content-length, content-type, then the security headers)."""
    from serving.middleware import security_headers
    from serving.routes.screenings import _created

    sent: list[dict[str, Any]] = []
    body = orjson.dumps(example())
    headers = [(b"x-api-key", keys["screener"].encode()), (b"content-type", b"application/json")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr]
    start, content = sent
    expected = _created(content["body"])
    assert start == {
        "type": "http.response.start",
        "status": 201,
        "headers": [*expected.raw_headers, *security_headers(URL)],
    }
    assert content == {"type": "http.response.body", "body": expected.body}
    assert orjson.loads(content["body"])["screening_id"]
