"""Concurrency: reloads while requests are in flight, and two API processes on one PostgreSQL.

Two concurrent decisions for one screening (one 201, one 409) on SQLite and PostgreSQL are
in ``test_tamper.py::test_two_concurrent_decisions_give_one_201_and_one_409``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.cli import main
from tests.support.api import example
from tests.support.live import LiveServer

CLIENTS = 4
PER_THREAD = 25
RELOADS = 12
TIME_LIMIT = 60.0


@pytest.mark.slow
def test_reload_under_load_drops_nothing_and_mixes_no_versions(
    tmp_path: Path, db_url: str, keys: dict[str, str]
) -> None:
    # Probabilities shown to screeners: they are what tells the two versions' answers apart.
    server = LiveServer(
        db_url=db_url,
        log_path=tmp_path / "server.log",
        loader="alternate",
        extra_env={"TAROZU_SHOW_PROBABILITIES_TO_SCREENERS": "true"},
    ).start()
    screener = {"X-API-Key": keys["screener"]}
    data_scientist = {"X-API-Key": keys["data-scientist"]}
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            reference: dict[str, dict[str, Any]] = {}
            for _ in range(2):  # the numbers of each version for the same case
                body = http.post("/v1/screenings", json=example(), headers=screener).json()
                reference[body["model"]["version"]] = body["outcomes"]
                assert http.post("/v1/admin/reload", headers=data_scientist).status_code == 200
            assert set(reference) == {"1", "2"}
            assert reference["1"]["labour"]["probability"] != reference["2"]["labour"]["probability"]

            stop = threading.Event()
            results: list[tuple[int, str | None, bool]] = []
            lock = threading.Lock()

            def worker() -> None:
                deadline = time.monotonic() + TIME_LIMIT
                with httpx.Client(base_url=server.url, timeout=10) as own:
                    while not stop.is_set() and time.monotonic() < deadline:
                        r = own.post("/v1/screenings", json=example(), headers=screener)
                        body = r.json()
                        version = body.get("model", {}).get("version")
                        matches = r.status_code == 201 and body["outcomes"] == reference.get(version)
                        with lock:
                            results.append((r.status_code, version, matches))

            threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            reloads = 0
            for _ in range(RELOADS):
                time.sleep(0.05)
                assert http.post("/v1/admin/reload", headers=data_scientist).status_code == 200
                reloads += 1
            stop.set()
            for t in threads:
                t.join(timeout=30)
    finally:
        server.stop()
    assert reloads == RELOADS
    assert results
    assert all(status == 201 for status, _, _ in results), {s for s, _, _ in results}
    assert all(matches for _, _, matches in results), "a response mixed model versions"
    assert {v for _, v, _ in results} == {"1", "2"}
    assert main(["audit-log", "verify", "--database-url", db_url]) == 0


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.xdist_group("postgres")
def test_two_api_processes_on_one_postgres_lose_nothing(tmp_path: Path, pg_url: str) -> None:
    """Serving takes ``pg_advisory_xact_lock`` around each chain transaction; two writers prove it."""
    from serving.auditlog.database import make_engine, run_migrations
    from serving.keys import create_key

    url = pg_url
    engine = make_engine(url)
    run_migrations(engine)
    keys = {"screener": create_key(engine, role="screener")["key"]}
    engine.dispose()
    servers = [LiveServer(db_url=url, log_path=tmp_path / f"server{i}.log").start() for i in range(2)]
    acked: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(server: LiveServer) -> None:
        with httpx.Client(base_url=server.url, timeout=10, headers={"X-API-Key": keys["screener"]}) as http:
            for _ in range(PER_THREAD):
                r = http.post("/v1/screenings", json=example())
                with lock:
                    (acked.append(r.json()["screening_id"]) if r.status_code == 201 else errors.append(r.text))

    try:
        threads = [threading.Thread(target=worker, args=(s,)) for s in servers for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for s in servers:
            s.stop()
    assert not errors, errors[:3]
    assert len(acked) == 6 * PER_THREAD
    from sqlalchemy import text

    from serving.auditlog.database import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        stored = {sid for (sid,) in conn.execute(text("SELECT screening_id FROM screenings"))}
    engine.dispose()
    assert set(acked) <= stored
    assert main(["audit-log", "verify", "--database-url", url]) == 0
