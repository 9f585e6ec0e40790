"""Alembic environment of the Tarozu audit database.

Used by :func:`serving.db.run_migrations` (which passes its connection in
``config.attributes["connection"]``) and by ``alembic -c serving/alembic.ini`` (which takes
the URL from ``sqlalchemy.url`` or, if empty, from ``TAROZU_DATABASE_URL``).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text

from serving.auditlog.database import IMMEDIATE, make_engine, metadata, normalise_url

MIGRATION_LOCK = 0x7A7275  # pg_advisory_xact_lock key: one migrating process at a time


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        from serving.settings import get_settings

        url = get_settings().database_url
    engine = make_engine(normalise_url(url))
    try:
        with engine.connect().execution_options(**{IMMEDIATE: True}) as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Tarozu migrations run online only: alembic upgrade head")
run_migrations_online()
