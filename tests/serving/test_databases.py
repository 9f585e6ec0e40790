"""The audit log on PostgreSQL, and several writers (processes) sharing one chain."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.cli import main
from serving.app import create_app
from serving.auditlog.database import make_engine, run_migrations
from serving.auditlog.writer import AppendScreenings, AuditWriter, verify_chain
from serving.keys import create_key
from serving.schemas import ROLES
from serving.settings import Settings
from tests.support.api import ModelBox, auth, example, raw_screening_row


def _two_writers(url: str) -> None:
    """Two writers with their own engines (as two API processes would have) write at once."""
    engines = [make_engine(url) for _ in range(2)]
    run_migrations(engines[0])
    writers = [AuditWriter(e) for e in engines]
    for w in writers:
        w.start()

    def client(k: int) -> list[Any]:
        async def many() -> list[Any]:
            return await asyncio.gather(
                *(
                    writers[k].submit(
                        AppendScreenings([raw_screening_row(f"w{k}-{i}", key_id=f"w{k}", refer=i % 2 == 0)])
                    )
                    for i in range(40)
                )
            )

        return asyncio.run(many())

    try:
        with ThreadPoolExecutor(2) as pool:
            results = [r for rs in pool.map(client, range(2)) for r in rs]
    finally:
        for w in writers:
            w.stop()
    assert sorted(seq for r in results for seq, _ in r) == list(range(1, 81))
    report = verify_chain(engines[0])
    assert report.intact, report.problem
    assert report.rows == 80
    for e in engines:
        e.dispose()


def test_two_writers_share_one_sqlite_chain(db_url: str) -> None:
    _two_writers(db_url)


@pytest.mark.postgres
@pytest.mark.xdist_group("postgres")
def test_two_writers_share_one_postgres_chain(pg_url: str) -> None:
    _two_writers(pg_url)


@pytest.fixture
def pg_client(pg_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    engine = make_engine(pg_url)
    run_migrations(engine)
    keys = {role: create_key(engine, role=role)["key"] for role in ROLES}
    engine.dispose()
    settings = Settings(environment="production", hmac_secret=SecretStr("p" * 40), database_url=pg_url, gc_freeze=False)
    with TestClient(create_app(settings, model_loader=ModelBox().load)) as client:
        yield client, keys


@pytest.mark.postgres
@pytest.mark.xdist_group("postgres")
def test_postgres_audit_log_end_to_end(
    pg_client: tuple[TestClient, dict[str, str]], pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client, keys = pg_client
    ids = [
        client.post("/v1/screenings", json=example(), headers=auth(keys, "screener")).json()["screening_id"]
        for _ in range(3)
    ]
    bulk = {k: v for k, v in example().items() if k not in ("screener_assessment", "case_ref")}
    batch = client.post("/v1/screenings:batch", json={"cases": [bulk] * 4}, headers=auth(keys, "data-scientist"))
    assert batch.status_code == 201
    body = {"decision": "needs_more_information", "reason": "other"}
    barrier = threading.Barrier(2)

    def decide(_: int) -> int:
        barrier.wait()
        return client.post(f"/v1/screenings/{ids[0]}/decision", json=body, headers=auth(keys, "screener")).status_code

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(decide, range(2))) == [201, 409]
    correction = {"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "typo"}
    assert (
        client.post(f"/v1/screenings/{ids[1]}/corrections", json=correction, headers=auth(keys, "screener")).status_code
        == 201
    )
    assert (
        client.post(
            f"/v1/screenings/{ids[2]}/outcome", json={"outcome": "labour"}, headers=auth(keys, "specialist")
        ).status_code
        == 201
    )
    longest = {"outcome": "labour_rights_violation"}  # the longest outcome fits PostgreSQL's column
    assert client.post(f"/v1/screenings/{ids[2]}/outcome", json=longest, headers=auth(keys, "specialist")).is_success
    record = client.get(f"/v1/screenings/{ids[1]}", headers=auth(keys, "reviewer")).json()
    assert record["current"]["answers"]["isolation"] == "yes"
    page = client.get("/v1/screenings", headers=auth(keys, "reviewer")).json()
    assert page["total"] == 3  # bulk scoring is not screening
    assert client.get("/ready").status_code == 200
    assert main(["audit-log", "verify", "--database-url", pg_url]) == 0
    assert "8 rows, chain intact" in capsys.readouterr().out
