"""``tarozu serve``: the API on uvicorn, one worker, with the champion model.

The model and the database are checked before uvicorn starts, so that a missing champion,
a broken artifact or an unreachable database ends the command with one clear message and
exit code 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from serving.app import create_app
from serving.auditlog.database import check_writable, make_engine, run_migrations
from serving.registry import BrokenModelError, NoChampionError, RegisteredModel
from serving.runtime import registry_loader
from serving.settings import Settings

NOT_STARTED = "tarozu serve: not started: {reason}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1, TAROZU_HOST)")
    parser.add_argument("--port", type=int, help="port (default 8000, TAROZU_PORT)")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log every request (off by default: it costs about 20%% of throughput)",
    )
    parser.add_argument(
        "--database-url", help="audit database (default TAROZU_DATABASE_URL or sqlite:///var/tarozu-audit.db)"
    )


def run(args: argparse.Namespace) -> int:
    # Before numpy is imported anywhere in this process: one BLAS thread per server.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")

    try:
        overrides = {
            k: v
            for k, v in (
                ("host", args.host),
                ("port", args.port),
                ("access_log", args.access_log),
                ("database_url", args.database_url),
            )
            if v is not None
        }
        settings = Settings(**overrides)
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        print(NOT_STARTED.format(reason=reasons), file=sys.stderr)
        return 2

    engine = make_engine(settings.database_url)
    try:
        run_migrations(engine)
        check_writable(engine)
    except SQLAlchemyError as exc:
        print(
            NOT_STARTED.format(
                reason=f"the audit database is unreachable, unusable or read-only ({type(exc).__name__}: "
                f"{getattr(exc, 'orig', exc)}); check TAROZU_DATABASE_URL"
            ),
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()
    try:
        first = registry_loader(settings)
    except (NoChampionError, BrokenModelError) as exc:
        print(NOT_STARTED.format(reason=exc), file=sys.stderr)
        return 2

    served = [first]

    def loader(s: Settings) -> RegisteredModel:
        # The lifespan's first load reuses the model checked above; reloads go to the registry.
        return served.pop() if served else registry_loader(s)

    app = create_app(settings, model_loader=loader)
    print(f"Tarozu API on http://{settings.host}:{settings.port} (docs at /docs)", file=sys.stderr)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        workers=1,
        access_log=settings.access_log,
        server_header=False,
        # X-Forwarded-For only from the configured proxies (uvicorn would believe any local client).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or [],
        log_level="info",
        ws="none",  # no WebSocket routes: skip importing a WebSocket implementation at start-up
    )
    return 0
