"""The audit log's hash chain: it verifies, and any edited, deleted, inserted or reordered row
is named; writes are durable before the answer and all-or-nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.cli import main
from serving.auditlog.database import make_engine
from serving.auditlog.writer import AppendScreenings, AuditWriter, verify_chain
from serving.keys import Principal
from tests.support.api import auth, count_rows, example, on_writers_connection, raw_screening_row, screen


@pytest.fixture
def filled(client: TestClient, keys: dict[str, str], db_url: str) -> str:
    """A log with every kind of event: 4 screenings, a decision, an outcome, a correction and a bulk
    scoring call (8 rows)."""
    ids = [screen(client, keys)["screening_id"] for _ in range(2)]
    client.post(
        f"/v1/screenings/{ids[0]}/decision",
        json={"decision": "needs_more_information", "reason": "other"},
        headers=auth(keys, "screener"),
    )
    client.post(f"/v1/screenings/{ids[1]}/outcome", json={"outcome": "none"}, headers=auth(keys, "specialist"))
    client.post(
        f"/v1/screenings/{ids[1]}/corrections",
        json={"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "typo"},
        headers=auth(keys, "screener"),
    )
    screen(client, keys)
    screen(client, keys)
    bulk = {k: v for k, v in example().items() if k not in ("screener_assessment", "case_ref")}
    response = client.post("/v1/screenings:batch", json={"cases": [bulk, bulk]}, headers=auth(keys, "data-scientist"))
    assert response.status_code == 201
    return db_url


def sql(db_url: str, statement: str, *params: Any) -> list[Any]:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(statement, params).fetchall()


def verify(db_url: str) -> Any:
    engine = make_engine(db_url)
    try:
        return verify_chain(engine)
    finally:
        engine.dispose()


def test_the_chain_covers_every_event_in_order(filled: str) -> None:
    report = verify(filled)
    assert report.intact
    assert report.rows == 8
    seqs = sorted(
        s
        for t in ("screenings", "decisions", "outcomes", "corrections", "bulk_scorings")
        for (s,) in sql(filled, f"SELECT seq FROM {t}")
    )
    assert seqs == list(range(1, 9))
    assert sql(filled, "SELECT seq, rows FROM bulk_scorings") == [(8, 2)]
    assert sql(filled, "SELECT seq, hash FROM chain_head") == [(8, report.head_hash)]


def test_cli_says_intact(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit-log", "verify", "--database-url", filled]) == 0
    assert "8 rows, chain intact" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tamper", "seq", "words"),
    [
        ("UPDATE screenings SET screener_assessment = 'low' WHERE seq = 2", 2, "edited"),
        ("UPDATE decisions SET decision = 'referred' WHERE seq = 3", 3, "edited"),
        ("UPDATE screenings SET result = replace(result, '\"refer\":', '\"refer\" :') WHERE seq = 1", 1, "edited"),
        (
            "UPDATE corrections SET hash = CASE substr(hash, 1, 1) WHEN 'f' THEN 'e' ELSE 'f' END "
            "|| substr(hash, 2) WHERE seq = 5",
            5,
            "edited",
        ),
        ("DELETE FROM outcomes WHERE seq = 4", 4, "deleted"),
        ("DELETE FROM screenings WHERE seq = 7", 7, "deleted"),
        (
            "UPDATE screenings SET seq = -1 WHERE seq = 6; UPDATE screenings SET seq = 6 WHERE seq = 7; "
            "UPDATE screenings SET seq = 7 WHERE seq = -1",
            6,
            "reordered",
        ),
        ("UPDATE bulk_scorings SET rows = 1 WHERE seq = 8", 8, "edited"),
        ("DELETE FROM bulk_scorings WHERE seq = 8", 8, "deleted"),
        (
            "INSERT INTO outcomes (seq, created_at, role, key_id, screening_id, outcome, prev_hash, hash) "
            "SELECT 3, created_at, role, key_id, screening_id, 'labour', prev_hash, hash FROM outcomes",
            3,
            "inserted",
        ),
    ],
)
def test_tampering_is_detected_and_named(
    filled: str, tamper: str, seq: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(filled.removeprefix("sqlite:///")) as conn:
        before = conn.total_changes
        conn.executescript(f"PRAGMA foreign_keys=OFF; {tamper};")
        assert conn.total_changes > before  # the tampering really changed something
    report = verify(filled)
    assert not report.intact
    assert report.problem.seq == seq
    assert words in report.problem.problem
    assert main(["audit-log", "verify", "--database-url", filled]) == 1
    err = capsys.readouterr().err
    assert f"row {seq} " in err
    assert "NOT intact" in err


def test_missing_database_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit-log", "verify", "--database-url", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
    assert "no audit database" in capsys.readouterr().err


def test_failed_write_is_503_and_leaves_nothing(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    screen(client, keys)
    head = sql(db_url, "SELECT seq, hash FROM chain_head")
    sql(db_url, "CREATE TRIGGER broken BEFORE INSERT ON screenings BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    response = client.post("/v1/screenings", json=example(), headers=auth(keys, "screener"))
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "audit_log_unavailable"
    assert "disk on fire" not in response.text
    sql(db_url, "CREATE TRIGGER broken_bulk BEFORE INSERT ON bulk_scorings BEGIN SELECT RAISE(ABORT, 'x'); END")
    bulk = {k: v for k, v in example().items() if k not in ("screener_assessment", "case_ref")}
    batch = client.post("/v1/screenings:batch", json={"cases": [bulk] * 3}, headers=auth(keys, "data-scientist"))
    assert batch.status_code == 503
    assert batch.json()["error"]["code"] == "audit_log_unavailable"
    assert count_rows(db_url, "screenings") == 1
    assert count_rows(db_url, "bulk_scorings") == 0
    assert sql(db_url, "SELECT seq, hash FROM chain_head") == head
    sql(db_url, "DROP TRIGGER broken")
    sql(db_url, "DROP TRIGGER broken_bulk")
    screen(client, keys)
    assert verify(db_url).intact


def test_writer_recovers_with_a_fresh_connection(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    """A failure leaves the writer's connection in an unknown state: it must be discarded."""
    screen(client, keys)
    on_writers_connection(client, "PRAGMA query_only = 1")  # this connection can no longer write
    assert client.post("/v1/screenings", json=example(), headers=auth(keys, "screener")).status_code == 503
    screen(client, keys)
    assert count_rows(db_url, "screenings") == 2
    assert verify(db_url).intact


def test_concurrent_writes_share_commits(db_url: str) -> None:
    """Group commit: many queued operations, few transactions, one intact chain."""
    engine = make_engine(db_url)
    writer = AuditWriter(engine)
    writer.start()
    who = Principal(key_id="k", role="screener")

    async def many() -> list[Any]:
        return await asyncio.gather(
            *(
                writer.submit(AppendScreenings([raw_screening_row(f"id-{i}", key_id=who.key_id, role=who.role)]))
                for i in range(60)
            )
        )

    try:
        results = asyncio.run(many())
    finally:
        writer.stop()
    assert sorted(r[0][0] for r in results) == list(range(1, 61))
    assert writer.commits < 30
    assert verify(db_url).intact
    engine.dispose()
