"""The audit writer's own process: it outlives neither the API process nor its own failure silently,
shrugs off the signals sent to a whole process group, and never blocks on a big batch."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from fastapi.testclient import TestClient

from serving.auditlog.database import make_engine
from serving.auditlog.writer import AppendScreenings, AuditWriter, frame, verify_chain
from tests.support.api import auth, count_rows, example, raw_screening_row, screen


def _rows(prefix: str, n: int) -> list[dict[str, Any]]:
    return [raw_screening_row(f"{prefix}-{i}", key_id="k") for i in range(n)]


def _wait_exit(writer: AuditWriter, seconds: float = 20) -> int | None:
    assert writer._process is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code = writer._process.poll()
        if code is not None:
            return code
        time.sleep(0.02)
    return None


def test_a_dead_writer_process_is_503_and_not_ready(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    screen(client, keys)
    writer = client.app.state.services.writer  # type: ignore[attr-defined]
    os.kill(writer._process.pid, signal.SIGKILL)
    assert _wait_exit(writer) is not None
    r = client.post("/v1/screenings", json=example(), headers=auth(keys, "screener"))
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "audit_log_unavailable"
    assert client.get("/ready").status_code == 503  # an orchestrator restarts the service
    assert count_rows(db_url, "screenings") == 1
    assert verify_chain(make_engine(db_url)).intact


def test_the_writer_process_ignores_a_process_groups_signals(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    """Ctrl-C in a terminal, or a service manager stopping the group, reach the writer too: it keeps
    writing until the API process, which finishes its requests first, stops it."""
    writer = client.app.state.services.writer  # type: ignore[attr-defined]
    assert os.getpgid(writer._process.pid) != os.getpgid(0)  # a terminal's Ctrl-C does not reach it
    screen(client, keys)  # the writer's process is up (it answered)
    for sig in (signal.SIGINT, signal.SIGTERM):  # as a service manager stopping every process of the service
        os.kill(writer._process.pid, sig)
    time.sleep(0.3)
    assert writer.running
    screen(client, keys)
    assert count_rows(db_url, "screenings") == 2


def test_the_writer_process_commits_what_it_received_when_the_api_process_goes(db_url: str) -> None:
    engine = make_engine(db_url)
    writer = AuditWriter(engine)
    writer.start()
    asyncio.run(writer.submit(AppendScreenings(_rows("before", 2))))
    assert writer._sock is not None
    # As if the API process died right after sending: the message is there, nobody waits for its answer.
    writer._sock.setblocking(True)
    writer._sock.sendall(frame([AppendScreenings(_rows("last", 3))]))
    writer._sock.close()
    assert _wait_exit(writer) == 0
    assert count_rows(db_url, "screenings") == 5
    assert verify_chain(engine).intact
    engine.dispose()


def test_big_batches_pass_without_blocking_the_event_loop(db_url: str) -> None:
    """Messages larger than the socket's buffers in both directions at once (two 6,000-row batches):
    the event loop goes on while they are sent, and nothing deadlocks."""
    engine = make_engine(db_url)
    writer = AuditWriter(engine)
    writer.start()

    async def both() -> tuple[list[Any], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        first = asyncio.create_task(writer.submit(AppendScreenings(_rows("a", 6000))))
        await asyncio.sleep(0)  # a separate message
        second = writer.submit(AppendScreenings(_rows("b", 6000)))
        results = await asyncio.gather(first, second)
        task.cancel()
        return results, ticks

    try:
        (a, b), ticks = asyncio.run(asyncio.wait_for(both(), timeout=60))
    finally:
        writer.stop()
    assert [seq for seq, _ in a + b] == list(range(1, 12001))
    assert ticks > 2
    report = verify_chain(engine)
    assert report.intact
    assert report.rows == 12000
    engine.dispose()


def test_the_database_url_is_not_on_the_command_line(db_url: str) -> None:
    """Anyone on the machine can read a process's arguments; a database URL may hold a password."""
    engine = make_engine(db_url)
    writer = AuditWriter(engine)
    writer.start()
    try:
        assert writer._process is not None
        assert not any(db_url.removeprefix("sqlite:///") in str(arg) for arg in writer._process.args)  # type: ignore[union-attr]
        asyncio.run(writer.submit(AppendScreenings(_rows("p", 1))))
    finally:
        writer.stop()
    assert count_rows(db_url, "screenings") == 1
    engine.dispose()


def test_a_writer_given_nothing_stops_at_once_and_a_later_one_writes(db_url: str) -> None:
    """An API process stopped before any request (or one that only read) does not wait for its writer's
    process to finish starting: it holds nothing to commit. A writer started after it writes as ever."""
    engine = make_engine(db_url)
    idle = AuditWriter(engine)
    idle.start()
    process = idle._process
    assert process is not None
    pid = process.pid
    idle.stop()
    assert process.returncode == -signal.SIGKILL  # stopped where it was, not waited for
    assert idle._process is None
    assert not idle.running
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass  # gone, and reaped
    else:
        raise AssertionError(f"the idle writer's process {pid} is still there")
    writer = AuditWriter(engine)
    writer.start()
    process = writer._process
    try:
        asyncio.run(writer.submit(AppendScreenings(_rows("after", 2))))
    finally:
        writer.stop()
    assert process is not None
    assert process.returncode == 0
    assert count_rows(db_url, "screenings") == 2
    assert verify_chain(engine).intact
    engine.dispose()
