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
