"""Tamper evidence and the audit-log promises on SQLite and on a real PostgreSQL.

``tests/serving/test_auditlog.py`` covers edits, deletions, an insertion and a reordering on
SQLite; these add PostgreSQL, an attacker who recomputes the edited row's own hash, a
truncated tail, a removed head record, a forged row appended at the end, and two
concurrent decisions (one 201, one 409) on both databases.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from pipeline.cli import main
from serving.auditlog.database import make_engine
from serving.auditlog.writer import row_hash, verify_chain
from tests.support.api import auth, example


def fill(client: Any, keys: dict[str, str]) -> list[str]:
    """Six events: 3 screenings, a decision, an outcome, a batch of 1 (seq 1..6)."""
    ids = []
    for _ in range(3):
        r = client.post("/v1/screenings", json=example(), headers=auth(keys, "screener"))
        assert r.status_code == 201
        ids.append(r.json()["screening_id"])
    decision = {"decision": "needs_more_information", "reason": "other"}
    assert client.post(f"/v1/screenings/{ids[0]}/decision", json=decision, headers=auth(keys, "screener")).is_success
    outcome = client.post(
        f"/v1/screenings/{ids[1]}/outcome", json={"outcome": "none"}, headers=auth(keys, "specialist")
    )
    assert outcome.is_success
    bulk = {k: v for k, v in example().items() if k not in ("screener_assessment", "case_ref")}
    batch = client.post("/v1/screenings:batch", json={"cases": [bulk]}, headers=auth(keys, "data-scientist"))
    assert batch.status_code == 201
    return ids


def execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def rehash_screening(url: str, seq: int) -> None:
    """Edit a screening and recompute its own hash, as an attacker who knows the scheme would."""
    from serving.auditlog.database import screenings

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            row = conn.execute(screenings.select().where(screenings.c.seq == seq)).one()._asdict()
            row["screener_assessment"] = "high" if row["screener_assessment"] != "high" else "low"
            row["hash"] = row_hash("screenings", row)
            conn.execute(
                screenings.update()
                .where(screenings.c.seq == seq)
                .values(screener_assessment=row["screener_assessment"], hash=row["hash"])
            )
    finally:
        engine.dispose()


TAMPERS: list[tuple[str, Any, int, str]] = [
    ("edit", ["UPDATE screenings SET refer = NOT refer WHERE seq = 2"], 2, "edited"),
    ("rehashed-edit", rehash_screening, 4, "not the hash of row 3"),  # named by the next row
    ("delete-middle", ["DELETE FROM outcomes WHERE seq = 5"], 5, "deleted"),
    ("truncate-tail", ["DELETE FROM bulk_scorings WHERE seq = 6"], 6, "deleted from the end"),
    ("remove-head-record", ["DELETE FROM chain_head"], 6, "head record is missing"),
    (
        "forged-append",
        [
            "INSERT INTO outcomes (seq, created_at, role, key_id, screening_id, outcome, prev_hash, hash) "
            "SELECT 7, created_at, role, key_id, screening_id, 'labour', hash, hash FROM outcomes WHERE seq = 5"
        ],
        7,
        "not the hash of row 6",
    ),
    (
        "reorder",
        [
            "UPDATE screenings SET seq = -1 WHERE seq = 2",
            "UPDATE screenings SET seq = 2 WHERE seq = 3",
            "UPDATE screenings SET seq = 3 WHERE seq = -1",
        ],
        2,
        "prev_hash",
    ),
]


@pytest.mark.xdist_group("postgres")
@pytest.mark.parametrize(("tamper", "seq", "words"), [t[1:] for t in TAMPERS], ids=[t[0] for t in TAMPERS])
def test_tampering_is_detected_and_named(
    audit_client: tuple[Any, str, dict[str, str]],
    tamper: Any,
    seq: int,
    words: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, url, keys = audit_client
    fill(client, keys)
    assert main(["audit-log", "verify", "--database-url", url]) == 0
    assert "6 rows, chain intact" in capsys.readouterr().out
    if callable(tamper):
        tamper(url, seq - 1)
    else:
        execute(url, *tamper)
    engine = make_engine(url)
    try:
        report = verify_chain(engine)
    finally:
        engine.dispose()
    assert report.problem is not None
    assert report.problem.seq == seq, report.problem
    assert words in report.problem.problem
    assert main(["audit-log", "verify", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert f"row {seq} " in err
    assert "NOT intact" in err


@pytest.mark.xdist_group("postgres")
def test_two_concurrent_decisions_give_one_201_and_one_409(audit_client: tuple[Any, str, dict[str, str]]) -> None:
    client, url, keys = audit_client
    body = {"decision": "needs_more_information", "reason": "additional_information"}

    def decide(sid: str) -> int:
        return client.post(f"/v1/screenings/{sid}/decision", json=body, headers=auth(keys, "screener")).status_code

    for _ in range(5):
        sid = client.post("/v1/screenings", json=example(), headers=auth(keys, "screener")).json()["screening_id"]
        with ThreadPoolExecutor(2) as pool:
            assert sorted(pool.map(decide, [sid, sid])) == [201, 409]
    assert main(["audit-log", "verify", "--database-url", url]) == 0
