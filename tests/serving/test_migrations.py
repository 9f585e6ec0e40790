"""The migrations build exactly the schema that serving.auditlog.database declares, and upgrade an old log in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from serving.auditlog.database import make_engine, metadata, run_migrations
from serving.auditlog.writer import verify_chain


def differences(engine: Engine) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def upgrade_to(engine: Engine, revision: str) -> None:
    """Migrate a fresh log only up to ``revision``: a log as an older Tarozu left it."""
    from alembic import command

    from serving.auditlog.database import IMMEDIATE, alembic_config

    config = alembic_config()
    with engine.connect().execution_options(**{IMMEDIATE: True}) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_migrated_sqlite_matches_the_declared_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        run_migrations(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_log_at_the_newest_schema_is_opened_without_alembic(tmp_path: Path) -> None:
    """HEAD_REVISION is Alembic's head; a log already at it is opened by one read (Alembic is not even
    imported, a third of a second of every start), and a log one migration behind is still upgraded."""
    import subprocess
    import sys

    from alembic.script import ScriptDirectory

    from serving.auditlog.database import HEAD_REVISION, alembic_config, at_head

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == HEAD_REVISION, f"a new migration: set HEAD_REVISION in serving/auditlog/database.py to {head!r}"
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    try:
        assert not at_head(engine)  # a new file: no version table
        upgrade_to(engine, "0007")
        assert not at_head(engine)
        run_migrations(engine)
        assert at_head(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()
    check = (
        "import sys; from serving.auditlog.database import make_engine, run_migrations; "
        f"run_migrations(make_engine({url!r})); print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def test_migrated_postgres_matches_the_declared_tables(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        run_migrations(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_log_of_the_first_schema_upgrades_with_its_chain_intact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    try:
        upgrade_to(engine, "0001")
        import sqlite3

        from serving.auditlog.writer import GENESIS, row_hash
        from tests.support.api import raw_screening_row

        # Written as the code of 0001 wrote it: the columns of that schema only.
        row = {**raw_screening_row("s1", key_id="k"), "created_at": "2026-12-01T00:00:00.000000Z"}
        row.update(seq=1, prev_hash=GENESIS)
        row["hash"] = row_hash("screenings", row)
        with sqlite3.connect(tmp_path / "audit.db") as conn:
            conn.execute(
                f"INSERT INTO screenings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
            conn.execute("INSERT INTO chain_head (id, seq, hash) VALUES (1, 1, ?)", (row["hash"],))
        run_migrations(engine)
        report = verify_chain(engine)
        assert report.intact, report.problem
        assert report.rows == 1
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_decisions_and_corrections_logged_before_overrides_keep_their_hashes(tmp_path: Path) -> None:
    """0005 adds override_reason to decisions and corrections: rows written before it (hashed without
    the column, as the code of 0004 wrote them) verify after it, and new rows chain on."""
    import asyncio
    import sqlite3

    from serving.auditlog.queries import current_value
    from serving.auditlog.writer import GENESIS, AppendCorrection, AuditWriter, row_hash
    from tests.support.api import raw_screening_row

    path = tmp_path / "audit.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_to(engine, "0004")
        stamp, who = "2026-12-01T00:00:00.000000Z", {"role": "screener", "key_id": "k"}
        old_rows = [
            ("screenings", {**raw_screening_row("s1", key_id="k"), "created_at": stamp}),
            ("decisions", {**who, "screening_id": "s1", "decision": "referred", "reason": "other",
                           "reason_text": None, "recommendation_refer": False, "differs": True, "created_at": stamp}),
            ("corrections", {**who, "screening_id": "s1", "field": "isolation", "old_value": '"not_asked"',
                             "new_value": '"yes"', "reason": "r", "created_at": stamp}),
        ]  # fmt: skip
        previous = GENESIS
        with sqlite3.connect(path) as conn:
            for seq, (table, row) in enumerate(old_rows, start=1):
                row.update(seq=seq, prev_hash=previous)
                row["hash"] = previous = row_hash(table, row)
                columns = ", ".join(row)
                conn.execute(
                    f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})", list(row.values())
                )
            conn.execute("INSERT INTO chain_head (id, seq, hash) VALUES (1, 3, ?)", (previous,))
        run_migrations(engine)
        assert differences(engine) == []
        report = verify_chain(engine)
        assert report.intact, report.problem
        assert report.rows == 3
        writer = AuditWriter(engine)
        writer.start()
        try:
            override = {**old_rows[2][1], "role": "supervisor", "key_id": "boss", "old_value": '"yes"'}
            override = {k: v for k, v in override.items() if k not in ("seq", "prev_hash", "hash", "created_at")}
            op = AppendCorrection(
                {**override, "override_reason": "why"}, current=current_value("isolation"), owner=None
            )
            asyncio.run(writer.submit(op))
        finally:
            writer.stop()
        report = verify_chain(engine)
        assert report.intact, report.problem
        assert report.rows == 4
    finally:
        engine.dispose()


def test_bulk_calls_logged_before_outlook_rules_keep_their_hashes(tmp_path: Path) -> None:
    """0008 adds outlook_rule to bulk_scorings: a row written before it (hashed without the column) verifies
    after it, a new row with the rule chains on, and editing the old row's rule breaks the chain."""
    import sqlite3

    from serving.auditlog.writer import GENESIS, AppendBulkScoring, AuditWriter, row_hash

    path = tmp_path / "audit.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_to(engine, "0007")
        call = {"role": "data-scientist", "key_id": "k", "route": "batch", "rows": 3, "model_name": "m",
                "model_version": "1", "questionnaire_version": "2.0", "input_sha256": "0" * 64}  # fmt: skip
        row = {**call, "created_at": "2026-12-01T00:00:00.000000Z", "seq": 1, "prev_hash": GENESIS}
        row["hash"] = row_hash("bulk_scorings", row)
        with sqlite3.connect(path) as conn:
            conn.execute(
                f"INSERT INTO bulk_scorings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
            conn.execute("INSERT INTO chain_head (id, seq, hash) VALUES (1, 1, ?)", (row["hash"],))
        run_migrations(engine)
        assert differences(engine) == []
        assert verify_chain(engine).intact
        AuditWriter.append_once(engine, AppendBulkScoring({**call, "outlook_rule": 2}))
        report = verify_chain(engine)
        assert report.intact, report.problem
        assert report.rows == 2
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT outlook_rule FROM bulk_scorings ORDER BY seq").fetchall() == [(None,), (2,)]
            conn.execute("UPDATE bulk_scorings SET outlook_rule = 2 WHERE seq = 1")
        assert not verify_chain(engine).intact
    finally:
        engine.dispose()
