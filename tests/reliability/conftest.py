"""Fixtures of the reliability tests: the serving fixtures (reused, not copied), live servers
started as subprocesses on 127.0.0.1, and the private PostgreSQL server.

The serving tests' ``conftest.py`` is loaded under its own module name so that its fixtures
(``db_url``, ``keys``, ``settings``, ``client``, ``postgres_server``, ``pg_url``...) and helpers
serve these tests too. ``postgres_server`` starts a throwaway PostgreSQL from Debian's
binaries (``initdb`` + ``pg_ctl`` run as the ``postgres`` user when we are root) on a free
port and skips, saying why, only where PostgreSQL is not installed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVING_TESTS = ROOT / "tests" / "serving"
sys.path.insert(0, str(SERVING_TESTS))  # for `factories`, as tests/serving does
sys.path.insert(0, str(HERE))  # for `reliability_support` (a unique name: `conftest` is taken)


def _load_serving_conftest() -> Any:
    spec = importlib.util.spec_from_file_location("tarozu_serving_fixtures", SERVING_TESTS / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


serving_fixtures = _load_serving_conftest()
# Fixtures re-exported so pytest finds them for this directory.
template_db = serving_fixtures.template_db
db_url = serving_fixtures.db_url
settings_overrides = serving_fixtures.settings_overrides
settings = serving_fixtures.settings
keys = serving_fixtures.keys
model_box = serving_fixtures.model_box
client = serving_fixtures.client
postgres_server = serving_fixtures.postgres_server
pg_url = serving_fixtures.pg_url

# Helpers (ModelBox, TEST_SECRET, auth, ...) are re-exported once, by reliability_support.
from reliability_support import TEST_SECRET, LiveServer, ModelBox  # noqa: E402


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
