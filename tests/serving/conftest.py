"""Fixtures of the serving tests: a fresh SQLite audit log per test, keys for every role,
and the app with an injected model loader (no MLflow, no network)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

# tests/serving is not a package and pytest runs with --import-mode=importlib: make the
# factories importable by name (tests/browser does the same).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from factories import make_registered

from serving.app import create_app
from serving.auditlog.database import make_engine, run_migrations
from serving.keys import create_key
from serving.registry import RegisteredModel
from serving.schemas import ROLES, SCREENING_EXAMPLE
from serving.settings import Settings

TEST_SECRET = "test-secret-" + "x" * 40


@cache
def registered(version: str = "1", seed: int = 0) -> RegisteredModel:
    """Models are never mutated, so one per (version, seed) serves the whole session."""
    return make_registered(version, seed=seed)


@dataclass
class ModelBox:
    """What the injected loader returns; tests change it to simulate the registry."""

    current: RegisteredModel = field(default_factory=registered)
    error: Exception | None = None
    calls: int = 0

    def load(self, _settings: Settings) -> RegisteredModel:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.current


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


def auth(keys: dict[str, str], role: str, *, bearer: bool = False) -> dict[str, str]:
    key = keys[role]
    return {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}


def example(**changes: Any) -> dict[str, Any]:
    """The documented example request, with top-level changes."""
    case = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SCREENING_EXAMPLE.items()}
    case.update(changes)
    return case


def screen(client: TestClient, keys: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/screenings", json=example(**changes), headers=auth(keys, "screener"))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def count_rows(db_url: str, table: str) -> int:
    import sqlite3

    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


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


def raw_screening_row(screening_id: str, *, key_id: str, role: str = "screener", refer: bool = False) -> dict[str, Any]:
    """A minimal screening row as the audit writer takes it (for writer-level tests)."""
    return {
        "screening_id": screening_id,
        "role": role,
        "key_id": key_id,
        "source": "api",
        "model_name": "m",
        "model_version": "1",
        "questionnaire_version": "q",
        "lang": "en",
        "case_ref_hmac": None,
        "screener_assessment": "low",
        "answers": "{}",
        "context": "{}",
        "audit": "{}",
        "result": "{}",
        "refer": refer,
    }
