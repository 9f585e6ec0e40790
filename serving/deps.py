"""FastAPI dependencies: the caller (API key, role, services) and the app's settings.

Each authenticated route has exactly one dependency, :func:`require`, which reads the key
from ``Authorization: Bearer`` or ``X-API-Key`` itself: FastAPI's per-dependency work (and
sub-dependencies such as ``HTTPBearer``) cost as much CPU as scoring a case. The security
schemes and each route's roles are added to OpenAPI by :mod:`serving.openapi`. Every
dependency is ``async``: FastAPI runs sync ones in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from serving.errors import UnauthorizedError
from serving.keys import Principal, authorise
from serving.runtime import Services
from serving.schemas import ROLES
from serving.settings import Settings

ROLES_ATTRIBUTE = "tarozu_roles"
CONFLICTING_KEYS = "the Authorization header must be 'Bearer <key>', with the same key as X-API-Key if both are sent"


@dataclass(frozen=True)
class Caller:
    """Who is calling (key id and role) and the services the route works with."""

    principal: Principal
    services: Services


def presented_key(headers: Headers) -> str | None:
    """The API key from ``X-API-Key`` or ``Authorization: Bearer <key>``.

    An ``Authorization`` header that is not ``Bearer <key>``, or two headers with different
    keys, are refused rather than ignored: a request is authenticated by everything it sends.
    """
    key = headers.get("x-api-key")
    authorization = headers.get("authorization")
    if authorization is None:
        return key
    scheme, _, credentials = authorization.partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else ""
    if not bearer or (key is not None and key != bearer):
        raise UnauthorizedError(CONFLICTING_KEYS, code="invalid_api_key")
    return bearer


BULK_ONLY = (
    "bulk scoring is for data scientists, on data that is not about people being screened now; "
    "screen a person one at a time with POST /v1/screenings"
)


GATE_PRINCIPAL = "tarozu.principal"
"""Where :class:`serving.middleware.AuthGateMiddleware` leaves the principal of the key it admitted,
in the request's ASGI scope (which the server builds: a client cannot put it there)."""


async def authenticated(headers: Headers, services: Services) -> Principal:
    """The principal of the key the request presents (401 without a valid one)."""
    return await services.keys.authenticate(presented_key(headers))


async def caller_principal(scope: Scope, headers: Headers, services: Services) -> Principal:
    """The principal of the request's key: the one the gate admitted it with, else checked here.

    The gate checked this very key of this very request; checking it again cost a hash and a
    lookup per request, for the same answer.
    """
    principal: Principal | None = scope.get(GATE_PRINCIPAL)
    if principal is not None:
        return principal
    return await authenticated(headers, services)


def require(*roles: str, why: str | None = None) -> Any:
    """A dependency that authenticates the key (401) and checks its role (403, saying ``why`` if given)."""

    async def caller(request: Request) -> Caller:
        services: Services = request.app.state.services
        principal = await caller_principal(request.scope, request.headers, services)
        return Caller(authorise(principal, roles, why=why), services)

    setattr(caller, ROLES_ATTRIBUTE, roles)
    return Depends(caller)


def roles_of(call: Callable[..., Coroutine[Any, Any, Any]] | Any) -> tuple[str, ...] | None:
    roles: tuple[str, ...] | None = getattr(call, ROLES_ATTRIBUTE, None)
    return roles


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def app_settings(request: Request) -> Settings:
    """The settings the app was created with (``create_app`` defaults to the cached ``get_settings()``).

    Read from the app rather than overridden with ``app.dependency_overrides``: with any
    override registered, FastAPI re-inspects every dependency on every request.
    """
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]

# Which role calls which route; the README's matrix of roles and routes is tested against the app.
# A screener's screenings are theirs (serving.service.own_cases_only); a supervisor's decisions and
# corrections on them are overrides.
SCREENING_ROLES: tuple[str, ...] = ("screener",)
"""Who may screen (``POST /v1/screenings``): its documented route and its fast route both check these."""
Screener = Annotated[Caller, require(*SCREENING_ROLES)]
Decider = Annotated[Caller, require("screener", "supervisor")]
Specialist = Annotated[Caller, require("specialist")]
Reader = Annotated[Caller, require("reviewer", "data-scientist")]
CaseLister = Annotated[Caller, require("screener", "supervisor", "reviewer", "data-scientist")]
CaseReader = Annotated[Caller, require("screener", "supervisor", "specialist", "reviewer", "data-scientist")]
BulkScorer = Annotated[Caller, require("data-scientist", why=BULK_ONLY)]
DataScientist = Annotated[Caller, require("data-scientist")]
Admin = Annotated[Caller, require("admin")]
AnyRole = Annotated[Caller, require(*ROLES)]
