"""The Tarozu API: :func:`create_app` builds it; the lifespan loads the model and the log.

Nothing happens at import. At start-up the lifespan limits BLAS threads, opens the audit
database and runs its migrations, starts the audit-log writer (a process of its own, which starts
up while the model loads), loads ``models:/<name>@champion`` (through an injectable loader),
starts the API-key refresher, and freezes the objects loaded so far out of the garbage
collector's way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.middleware.cors import CORSMiddleware
from threadpoolctl import threadpool_limits

from serving.auditlog.database import make_engine, run_migrations
from serving.auditlog.model_events import load_withdrawals
from serving.auditlog.writer import AuditWriter
from serving.errors import install_error_handlers
from serving.keys import KeyStore
from serving.middleware import AuthGateMiddleware, BodyLimitMiddleware, SecurityHeadersMiddleware
from serving.openapi import install_docs, install_openapi
from serving.ratelimit import AuthFailures
from serving.routes import admin, audit, meta, mlflow, screenings, web
from serving.runtime import LoadedModel, ModelLoader, Services, registry_loader
from serving.settings import Settings, get_settings
from serving.withdrawal import WithdrawalRefresher

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Risk-screening decision support for counter-trafficking work. A positive screen means
"refer for a specialist assessment"; it is never a finding that a person is a victim.

Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. Roles: screener
(score, decide, correct), specialist (outcomes), reviewer (read screenings),
data-scientist (bulk scoring, reload the model, read everything), admin (keys; withdraw
and reinstate the model: the stop procedure).

Every error is `{"error": {"code", "message", "field", "value", "allowed"}}`, except
`/invocations`, which answers like MLflow's scoring server.
"""

TELEMETRY_OFF = TelemetryConfig(tracing=False, metrics=False, logs=False, operation_spans=False, auto_configure=False)
"""FastAPI's OpenTelemetry while ``TAROZU_TELEMETRY`` is not set: nothing, whatever the environment says."""


def create_app(settings: Settings | None = None, *, model_loader: ModelLoader | None = None) -> FastAPI:
    """The API. ``model_loader(settings)`` returns a ``RegisteredModel`` (default: the MLflow registry)."""
    settings = settings or get_settings()
    loader = model_loader or registry_loader

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threadpool_limits(limits=settings.blas_threads)
        engine = make_engine(settings.database_url)
        writer: AuditWriter | None = None
        try:
            run_migrations(engine)
            writer = AuditWriter(engine)
            writer.start()  # its process starts while the model loads
            loaded = LoadedModel.prepare(loader(settings))
            keys = KeyStore(engine, ttl=settings.key_cache_seconds)
            keys.load()
            services = Services(
                settings=settings,
                engine=engine,
                writer=writer,
                keys=keys,
                loader=loader,
                model=loaded,
                hmac_key=settings.hmac_secret.get_secret_value().encode("utf-8"),
            )
            services.withdrawals = load_withdrawals(engine)  # a withdrawal survives restarts
            services.background.append(asyncio.create_task(keys.run_refresher()))
            refresher = WithdrawalRefresher(services, settings.key_cache_seconds)
            services.background.append(asyncio.create_task(refresher.run()))
            app.state.services = services
            if settings.gc_freeze:
                gc.collect()
                gc.freeze()
            logger.info("serving %s version %s", loaded.registered.name, loaded.registered.version)
            yield
        finally:
            services_ = getattr(app.state, "services", None)
            for task in services_.background if services_ else []:
                task.cancel()
            if writer is not None:
                writer.stop()
            engine.dispose()

    app = FastAPI(
        title="Tarozu screening API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI from local files, by install_docs; no ReDoc (it needs inline styles)
        redoc_url=None,
        openapi_url="/openapi.json",
        telemetry=None if settings.telemetry else TELEMETRY_OFF,
    )
    app.state.settings = settings
    install_error_handlers(app)
    routers = [module.router for module in (screenings, mlflow, meta, audit, admin, web)]
    app.state.routers = routers
    for router in routers:
        app.include_router(router)
    # The hot path's own routes, tried first; each falls through to its documented route otherwise.
    app.router.routes[:0] = screenings.hot_routes()
    install_openapi(app, routers)
    if settings.docs_on:
        install_docs(app)
    app.mount("/static", StaticFiles(directory=web.static_dir(), check_dir=False), name="static")

    # Added innermost first: body limits, the key before the body, CORS (only if origins are
    # set), then headers.
    batch_width = max(settings.max_json_width, settings.max_batch_cases)
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        limits=[
            ("/v1/screenings:batch", settings.max_batch_body_bytes),
            ("/invocations", settings.max_batch_body_bytes),
        ],
        max_depth=settings.max_json_depth,
        max_width=settings.max_json_width,
        widths=[("/v1/screenings:batch", batch_width), ("/invocations", batch_width)],
    )
    failures = AuthFailures(
        per_client=settings.auth_failures_per_client,
        per_key_id=settings.auth_failures_per_key_id,
        window=settings.auth_failure_window_seconds,
    )
    app.state.auth_failures = failures
    app.add_middleware(AuthGateMiddleware, failures=failures)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
