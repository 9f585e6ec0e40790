"""The API's fixtures: a fresh SQLite audit log per test, keys for every role, the app with
an injected model loader (no MLflow, no network), and a private PostgreSQL server.

Registered for every test by ``tests/conftest.py``. ``postgres_server`` starts a throwaway
PostgreSQL from Debian's binaries (``initdb`` + ``pg_ctl`` run as the ``postgres`` user when
we are root) on a free port and skips, saying why, only where PostgreSQL is not installed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.auditlog.database import make_engine, run_migrations
from serving.keys import create_key
from serving.schemas import ROLES
from serving.settings import Settings
from tests.support.api import TEST_SECRET, ModelBox


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A migrated audit database with a key for every role, made once and copied per test."""
    path = tmp_path_factory.mktemp("template") / "audit.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        run_migrations(engine)
        keys = {role: create_key(engine, role=role, label=f"test {role}")["key"] for role in ROLES}
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    return path, keys


@pytest.fixture
def db_url(tmp_path: Path, template_db: tuple[Path, dict[str, str]]) -> str:
    path = tmp_path / "audit.db"
    shutil.copyfile(template_db[0], path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change settings."""
    return {}


@pytest.fixture
def settings(db_url: str, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "environment": "production",
        "hmac_secret": TEST_SECRET,
        "database_url": db_url,
        "gc_freeze": False,
        **settings_overrides,
    }
    return Settings(**values)


@pytest.fixture
def keys(db_url: str, template_db: tuple[Path, dict[str, str]]) -> dict[str, str]:
    """A working key for every role, in the test's database before the app starts."""
    return dict(template_db[1])


@pytest.fixture
def model_box() -> ModelBox:
    return ModelBox()


@pytest.fixture
def client(settings: Settings, keys: dict[str, str], model_box: ModelBox) -> Iterator[TestClient]:
    app = create_app(settings, model_loader=model_box.load)
    with TestClient(app) as test_client:
        yield test_client


# ---------------------------------------------------------------------------- PostgreSQL
def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL server for the session (Debian's binaries; no fsync: tests only)."""
    import os
    import socket
    import subprocess
    import tempfile

    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (make system-deps installs it)")
    base = Path(tempfile.mkdtemp(prefix="tarozu-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = base / "data"
    run = {"check": True, "capture_output": True}
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "tarozu", "-E", "UTF8", "--no-sync"],
        **run,
    )  # type: ignore[call-overload]
    options = f"-F -p {port} -k {base} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        **run,
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://tarozu@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: str) -> str:
    """A fresh database on the session's server."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server.replace('+psycopg', '')}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"
