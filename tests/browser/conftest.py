"""A real uvicorn server with a small test model and a temporary SQLite audit log, and headless
Chromium from Debian's packages driven by Playwright (never a downloaded browser).

The server runs in a thread of the test process on a socket bound to a free port of
127.0.0.1; one server and one browser serve the whole module (the browser tests must stay
well under a minute).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROLES = ("screener", "reviewer")


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    engine: Any
    audit: Any = None

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[role]}"}, timeout=10)


def _build_app(tmp: Path, environment: str = "development", registered: Any = None) -> tuple[Any, dict[str, str], Any]:
    """The API's own app factory with a test model (or ``registered``), a temporary database and one key per role."""
    from serving.app import create_app
    from serving.auditlog.database import make_engine, run_migrations
    from serving.keys import create_key
    from serving.settings import Settings
    from tests.support.factories import make_registered

    url = f"sqlite:///{tmp / 'audit.db'}"
    settings = Settings(environment=environment, hmac_secret="x" * 48, database_url=url, gc_freeze=False)
    engine = make_engine(url)
    run_migrations(engine)
    keys = {role: create_key(engine, role=role, label=f"browser {role}")["key"] for role in ROLES}
    model = registered if registered is not None else make_registered()
    app = create_app(settings, model_loader=lambda _settings: model)
    return app, keys, engine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory, "development")


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same app with environment=production (no /docs unless asked for)."""
    yield from _serve(tmp_path_factory, "production")


@pytest.fixture(scope="module")
def reported_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app serving a model that carries a fairness report, made by the real audit; the audit is
    ``server.audit``."""
    import dataclasses

    from pipeline.config import load_config
    from pipeline.fairness.audit import AuditSettings, audit_model
    from pipeline.fairness.report import render_html, report_json
    from serving.registry import FairnessReport
    from tests.support.factories import make_registered
    from tests.support.fairness import fair_frame, make_model

    frame = fair_frame(rows=3000, seed=5)
    audit = audit_model(
        model=make_model(), frame=frame, settings=AuditSettings.from_config(load_config(), n_boot=0), data="test rows"
    )
    registered = make_registered()
    # as `tarozu audit` writes it: the audited version named in the report
    audit = dataclasses.replace(audit, model={**audit.model, "name": registered.name, "version": registered.version})
    report = FairnessReport(json=report_json(audit).encode(), html=render_html(audit).encode())
    registered = dataclasses.replace(registered, fairness_report=report)
    for server in _serve(tmp_path_factory, "development", registered):
        server.audit = audit
        yield server


def _serve(tmp_path_factory: pytest.TempPathFactory, environment: str, registered: Any = None) -> Iterator[Server]:
    import uvicorn

    app, keys, engine = _build_app(tmp_path_factory.mktemp("browser"), environment, registered)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield Server(url=url, keys=keys, engine=engine)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (empty sessionStorage) that records console errors and failed requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.console_errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda m: page.console_errors.append(m.text) if m.type == "error" else None,  # type: ignore[attr-defined]
    )
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
