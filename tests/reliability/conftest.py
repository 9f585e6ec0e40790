"""Fixtures of the reliability tests: live servers started as subprocesses on 127.0.0.1, and
audit databases on SQLite and on the private PostgreSQL server (``tests.support.fixtures``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import TEST_SECRET, ModelBox
from tests.support.live import LiveServer


@pytest.fixture
def live_server(tmp_path: Path, db_url: str) -> Iterator[LiveServer]:
    """A fresh server on a copy of the template database (keys for every role in it)."""
    server = LiveServer(db_url=db_url, log_path=tmp_path / "server.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres])])
def audit_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """An empty migrated audit log with a key per role: on SQLite, then on PostgreSQL."""
    from serving.auditlog.database import make_engine, run_migrations
    from serving.keys import create_key
    from serving.schemas import ROLES

    if request.param == "sqlite":
        url = request.getfixturevalue("db_url")
        return url, dict(request.getfixturevalue("keys"))
    url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    try:
        run_migrations(engine)
        made = {role: create_key(engine, role=role)["key"] for role in ROLES}
    finally:
        engine.dispose()
    return url, made


@pytest.fixture
def audit_client(audit_db: tuple[str, dict[str, str]]) -> Iterator[tuple[Any, str, dict[str, str]]]:
    """The app (in-process) on ``audit_db``: ``(client, url, keys)``."""
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import Settings

    url, made = audit_db
    settings = Settings(environment="production", hmac_secret=TEST_SECRET, database_url=url, gc_freeze=False)
    with TestClient(create_app(settings, model_loader=ModelBox().load)) as test_client:
        yield test_client, url, made
