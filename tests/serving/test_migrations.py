"""The migrations build exactly the schema that serving.db declares, and upgrade an old log in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from serving.auditlog import verify_chain
from serving.db import make_engine, metadata, run_migrations


def differences(engine: Engine) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_migrated_sqlite_matches_the_declared_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        run_migrations(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_migrated_postgres_matches_the_declared_tables(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        run_migrations(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_log_of_the_first_schema_upgrades_with_its_chain_intact(tmp_path: Path) -> None:
    from alembic import command

    from serving.db import IMMEDIATE, alembic_config

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    try:
        config = alembic_config()
        with engine.connect().execution_options(**{IMMEDIATE: True}) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        import asyncio

        from conftest import raw_screening_row

        from serving.auditlog import AppendScreenings, AuditWriter

        writer = AuditWriter(engine)
        writer.start()
        try:
            asyncio.run(writer.submit(AppendScreenings([raw_screening_row("s1", key_id="k")])))
        finally:
            writer.stop()
        run_migrations(engine)
        report = verify_chain(engine)
        assert report.intact, report.problem
        assert report.rows == 1
        assert differences(engine) == []
    finally:
        engine.dispose()
