"""The authentication gate remembers which roles each (method, root path, path) needs.

It must answer what a fresh search of the routers answers (:func:`serving.middleware.route_roles`)
for every route of the app, and stay right when a route is added, removed or replaced after
requests were answered, and when it is full.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.deps import require
from serving.middleware import RouteRolesCache, route_roles
from serving.settings import Settings
from tests.support.api import auth, example


def _scope(app: Any, method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "app": app, "headers": []}


def _requests(app: Any) -> list[tuple[str, str]]:
    found = []
    for router in app.state.routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                path = route.path.replace("{screening_id}", "0" * 32).replace("{key_id}", "abc")
                found += [(method, path) for method in sorted(route.methods)]
    return [*found, ("GET", "/nowhere"), ("POST", "/v1/screenings/"), ("DELETE", "/v1/screenings")]


def test_the_cache_answers_as_a_search_for_every_route(settings: Settings) -> None:
    app = create_app(settings)
    cache = RouteRolesCache()
    requests = _requests(app)
    assert any(route_roles(_scope(app, m, p)) for m, p in requests)
    for _ in range(2):  # the second time from the cache
        for method, path in requests:
            scope = _scope(app, method, path)
            assert cache(scope) == route_roles(scope), (method, path)


def test_a_route_added_removed_or_replaced_later_is_seen() -> None:
    router = APIRouter()
    app = SimpleNamespace(state=SimpleNamespace(routers=[router]))
    cache = RouteRolesCache()
    scope = _scope(app, "POST", "/later")
    assert cache(scope) is None

    @router.post("/later")
    async def later(caller: Any = require("admin")) -> None: ...

    assert cache(scope) == ("admin",)
    router.routes.pop()
    assert cache(scope) is None

    @router.post("/later")
    async def again(caller: Any = require("reviewer")) -> None: ...

    assert cache(scope) == ("reviewer",)
    replaced = APIRouter()

    @replaced.post("/later")
    async def other(caller: Any = require("specialist")) -> None: ...

    router.routes = list(replaced.routes)  # the same length, another list
    assert cache(scope) == ("specialist",)
    app.state.routers = [APIRouter()]
    assert cache(scope) is None


def test_the_root_path_is_part_of_what_is_remembered(settings: Settings) -> None:
    app = create_app(settings)
    cache = RouteRolesCache()
    for root_path in ("", "/api", ""):
        scope = _scope(app, "POST", f"{root_path}/v1/screenings", root_path)
        assert cache(scope) == route_roles(scope)


def test_a_full_cache_starts_again_and_stays_right(settings: Settings) -> None:
    app = create_app(settings)
    cache = RouteRolesCache(size=3)
    paths = [f"/v1/screenings/{i:032x}" for i in range(10)]
    for path in paths * 2:
        scope = _scope(app, "GET", path)
        assert cache(scope) == route_roles(scope)
        assert len(cache._roles) <= 3


def test_the_gate_still_refuses_and_admits_by_route(client: TestClient, keys: dict[str, str]) -> None:
    for _ in range(2):
        assert client.post("/v1/screenings", json={}).status_code == 401
        assert client.get("/health").status_code == 200
        assert client.get("/v1/screenings", headers={"X-API-Key": keys["reviewer"]}).status_code == 200


def test_an_admitted_key_is_checked_once_and_its_role_still_by_the_route(
    client: TestClient, keys: dict[str, str]
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    checked: list[str | None] = []
    authenticate = services.keys.authenticate

    async def counting(key: str | None) -> Any:
        checked.append(key)
        return await authenticate(key)

    services.keys.authenticate = counting
    body = example()
    for query in ("", "?via=documented"):  # the fast route, then the documented one
        checked.clear()
        assert client.post(f"/v1/screenings{query}", json=body, headers=auth(keys, "screener")).status_code == 201
        assert checked == [keys["screener"]]
        checked.clear()
        refused = client.post(f"/v1/screenings{query}", json=body, headers=auth(keys, "reviewer"))
        assert refused.status_code == 403
        assert checked == [keys["reviewer"]]
    checked.clear()
    assert client.get("/v1/screenings", headers=auth(keys, "reviewer")).status_code == 200
    assert checked == [keys["reviewer"]]


def test_a_route_reached_without_the_gate_checks_the_key_itself(client: TestClient, keys: dict[str, str]) -> None:
    from starlette.datastructures import Headers

    from serving.deps import GATE_PRINCIPAL, caller_principal
    from serving.errors import UnauthorizedError

    services = client.app.state.services  # type: ignore[attr-defined]
    portal = client.portal
    assert portal is not None

    def principal_of(scope: dict[str, Any]) -> Any:
        return portal.call(caller_principal, scope, Headers(scope=scope), services)

    wrong = {"type": "http", "headers": [(b"x-api-key", b"trz_nope_nope")]}
    with pytest.raises(UnauthorizedError) as refused:
        principal_of(wrong)
    assert refused.value.code == "invalid_api_key"
    principal = principal_of({"type": "http", "headers": [(b"x-api-key", keys["screener"].encode())]})
    assert principal.role == "screener"
    assert principal_of({"type": "http", "headers": [], GATE_PRINCIPAL: principal}) is principal
