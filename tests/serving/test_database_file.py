"""The SQLite audit database is its owner's alone, and a file others may read is warned about once."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

import pytest

from serving.auditlog.database import make_engine, run_migrations
from serving.auditlog.writer import AppendScreenings, AuditWriter
from tests.support.api import raw_screening_row

WARNING = "readable by others"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_is_its_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "new" / "audit.db"
    run_migrations(make_engine(f"sqlite:///{path}"))
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert _mode(Path(f"{path}-wal")) == 0o600  # SQLite gives its log the database's mode


def test_a_database_others_may_read_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "audit.db"
    path.touch()
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        make_engine(f"sqlite:///{path}")
    assert [r.getMessage() for r in caplog.records if WARNING in r.getMessage()] == [
        f"the audit database {path} is readable by others (mode 644): chmod 600 it"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_engine(f"sqlite:///{path}", mode_warning=False)
    assert not [r for r in caplog.records if WARNING in r.getMessage()]
    assert _mode(path) == 0o644  # an existing file keeps its mode


def test_the_writers_process_does_not_warn_again(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The API process warns about the file's mode; the audit writer's process, which opens the same
    file, does not say it a second time (its log goes to the same standard error)."""
    path = tmp_path / "audit.db"
    url = f"sqlite:///{path}"
    run_migrations(make_engine(url))
    os.chmod(path, 0o644)
    writer = AuditWriter(make_engine(url, mode_warning=False))
    writer.start()
    try:
        asyncio.run(writer.submit(AppendScreenings([raw_screening_row("a", key_id="k")])))  # the process is up
    finally:
        writer.stop()
    assert WARNING not in capfd.readouterr().err
