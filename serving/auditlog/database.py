"""The audit database: tables (SQLAlchemy Core), engine set-up and Alembic migrations.

SQLite by default (WAL, ``synchronous=FULL``, foreign keys on, write transactions with
``BEGIN IMMEDIATE`` so that several processes serialise their writes), PostgreSQL when the
URL says so. The schema is created and upgraded only by the migrations in
``serving/migrations/``; :data:`metadata` mirrors them and a test checks that they agree.

The audit tables (``screenings``, ``decisions``, ``outcomes``, ``corrections``, ``bulk_scorings``,
``model_events``) are append-only and form one hash chain in ``seq`` order (see :mod:`serving.auditlog.writer`).
"""

from __future__ import annotations

import logging
import os
import stat
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)

IMMEDIATE = "tarozu_immediate"
"""Execution option: begin the transaction with ``BEGIN IMMEDIATE`` on SQLite."""

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _event_columns() -> list[Column[Any]]:
    """Columns every audit event has: its place in the chain, when, and who (by key id)."""
    return [
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("created_at", String(32), nullable=False),
        Column("role", String(32), nullable=False),
        Column("key_id", String(32), nullable=False),
    ]


def _chain_columns() -> list[Column[Any]]:
    return [Column("prev_hash", String(64), nullable=False), Column("hash", String(64), nullable=False)]


screenings = Table(
    "screenings",
    metadata,
    *_event_columns(),
    Column("screening_id", String(36), nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("questionnaire_version", String(32), nullable=False),
    Column("lang", String(8)),
    Column("case_ref_hmac", String(64)),
    Column("screener_assessment", String(16)),
    Column("answers", Text, nullable=False),
    Column("context", Text, nullable=False),
    Column("audit", Text, nullable=False),  # the monitoring fields (its first name: row hashes cover column names)
    Column("result", Text, nullable=False),
    Column("refer", Boolean, nullable=False),
    *_chain_columns(),
    Index(None, "created_at"),
    Column("response_sha256", String(64)),
    Column("response_probabilities", Boolean),
    Column("response_explain", String(8)),
)
"""``response_sha256`` is the SHA-256 of the explained result the screener was given (the response
body after its ids: see :mod:`serving.auditlog.recompute`), ``response_probabilities`` whether that response
showed the probabilities; both empty in rows logged before them (migration 0006). ``response_explain`` is
its form (``compact`` or ``full``); empty in rows logged before it (migration 0007), which were full.

From migration 0007 on, ``answers``, ``context`` and ``audit`` hold only the values given (the others
are at their reference level: not asked, not recorded) and ``result`` holds the outputs without the
per-field contributions (recomputed from the inputs and the model version when read); rows logged
before keep every field and their contributions, and read the same."""

decisions = Table(
    "decisions",
    metadata,
    *_event_columns(),
    Column("screening_id", String(36), ForeignKey("screenings.screening_id"), nullable=False, unique=True),
    Column("decision", String(32), nullable=False),
    Column("reason", String(32)),
    Column("reason_text", Text),
    Column("recommendation_refer", Boolean, nullable=False),
    Column("differs", Boolean, nullable=False),
    *_chain_columns(),
    Column("override_reason", Text),
)

outcomes = Table(
    "outcomes",
    metadata,
    *_event_columns(),
    Column("screening_id", String(36), ForeignKey("screenings.screening_id"), nullable=False, index=True),
    Column("outcome", String(32), nullable=False),
    *_chain_columns(),
)

corrections = Table(
    "corrections",
    metadata,
    *_event_columns(),
    Column("screening_id", String(36), ForeignKey("screenings.screening_id"), nullable=False, index=True),
    Column("field", String(64), nullable=False),
    Column("old_value", Text, nullable=False),
    Column("new_value", Text, nullable=False),
    Column("reason", Text, nullable=False),
    *_chain_columns(),
    Column("override_reason", Text),
)
"""A decision or correction with ``override_reason`` is a supervisor's override: made by a key other
than the one that screened the case (its role and key id are the row's)."""

bulk_scorings = Table(
    "bulk_scorings",
    metadata,
    *_event_columns(),
    Column("route", String(16), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("questionnaire_version", String(32), nullable=False),
    Column("input_sha256", String(64), nullable=False),
    Column("outlook_rule", Integer, nullable=True),
    *_chain_columns(),
    Index(None, "created_at"),
)
"""One row per bulk call (``/invocations``, ``:batch``, ``tarozu score``): bulk scoring is not screening,
so its cases are not screenings; the call is logged with its row count, the SHA-256 of the body scored
and the outlook rule its cases were given (empty before migration 0008, when it was rule 1)."""

model_events = Table(
    "model_events",
    metadata,
    *_event_columns(),
    Column("action", String(16), nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    *_chain_columns(),
)
"""The stop procedure: an admin withdraws a model version (nothing is scored with it) or reinstates
it; the latest event of a version is its state, so a withdrawal survives restarts."""

chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("label", String(100)),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    Column("dev", Boolean, nullable=False),
)

AUDIT_TABLES: dict[str, Table] = {
    t.name: t for t in (screenings, decisions, outcomes, corrections, bulk_scorings, model_events)
}


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver Tarozu installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_private_file(path: Path, *, mode_warning: bool = True) -> None:
    """Create the SQLite file for its owner only (0600) if it does not exist yet.

    SQLite would create it with the process's umask (usually readable by everyone); it gives
    its ``-wal`` and ``-shm`` files the database file's permissions. An existing file keeps
    its mode, with a warning if others may read it (unless ``mode_warning`` is False).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = path.stat().st_mode
        if mode_warning and mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning("the audit database %s is readable by others (mode %o): chmod 600 it", path, mode & 0o777)


def make_engine(url: str, *, mode_warning: bool = True) -> Engine:
    """An engine for the audit database; creates the SQLite file (0600) and its directory if needed.

    ``mode_warning=False`` leaves out the warning about an existing file that others may read: the
    audit writer's process opens the file the API process has already warned about."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            create_private_file(Path(database), mode_warning=mode_warning)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy, not sqlite3, emits BEGIN (see _on_begin); pragmas per connection.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(IMMEDIATE) else "BEGIN")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str | None = None) -> Any:
    """The Alembic configuration of the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("serving").joinpath("migrations")))
    if url:
        config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def check_writable(engine: Engine) -> None:
    """Raise if the audit log cannot be written (read-only file, mode, role or replica).

    A no-op write in a transaction that is rolled back: nothing changes.
    """
    from sqlalchemy import update

    with engine.connect().execution_options(**{IMMEDIATE: True}) as conn:
        transaction = conn.begin()
        try:
            conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=chain_head.c.seq))
        finally:
            transaction.rollback()


def _quiet_alembic() -> None:
    """Log Alembic at WARNING unless asked (``tarozu -v``, or a level set on its logger).

    At INFO it prints one line per plugin and two about the dialect on every start, which
    says nothing to someone running Tarozu. Called before Alembic is imported: the plugin
    lines are logged at import.
    """
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET and not logging.getLogger().isEnabledFor(logging.DEBUG):
        alembic_log.setLevel(logging.WARNING)


HEAD_REVISION = "0008"
"""The newest migration's revision (``serving/migrations/versions``; a test holds it to Alembic's head)."""


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is already the newest: one read of Alembic's version table, without
    importing Alembic (a third of a second of every start)."""
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:  # no version table yet: a new database
        return False
    return versions == [HEAD_REVISION]


def run_migrations(engine: Engine) -> None:
    """Upgrade the database to the newest schema (idempotent, serialised between processes)."""
    if at_head(engine):
        return
    _quiet_alembic()
    from alembic import command

    config = alembic_config()
    with engine.connect().execution_options(**{IMMEDIATE: True}) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
