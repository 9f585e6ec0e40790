"""Crash safety: SIGKILL the live server mid-load, three times, and restart it.

Every screening, bulk scoring call and decision that was acknowledged with a 2xx is in the
audit log after the restarts; a batch's cases are never logged as screenings (bulk scoring is
logged as one call); and ``tarozu audit-log verify`` passes.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import example
from tests.support.live import LiveServer

BATCH = 5
CLIENTS = 4
KILL_AFTER_SECONDS = (0.4, 1.2, 2.5)  # three kill points into the load after each start
TIME_LIMIT = 60.0
MIN_ANSWERED = 8


def tarozu(*args: str) -> subprocess.CompletedProcess[str]:
    import sys

    tool = Path(sys.executable).parent / "tarozu"
    return subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=120, check=False)


class Load:
    """Client threads screening (single and batch) and deciding until told to stop."""

    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url = url
        self.keys = keys
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked_screenings: set[str] = set()
        self.acked_batches = 0
        self.sent_batches = 0
        self.acked_decisions: set[str] = set()
        self.errors: list[str] = []
        self.requests = 0

    def worker(self, k: int) -> None:
        screener = {"X-API-Key": self.keys["screener"]}
        scientist = {"X-API-Key": self.keys["data-scientist"]}
        bulk = {k: v for k, v in example().items() if k not in ("screener_assessment", "case_ref")}
        deadline = time.monotonic() + TIME_LIMIT
        with httpx.Client(base_url=self.url, timeout=10.0) as http:
            i = 0
            while not self.stop.is_set() and time.monotonic() < deadline:
                i += 1
                try:
                    if i % 4 == 0:
                        with self.lock:
                            self.sent_batches += 1
                        r = http.post("/v1/screenings:batch", json={"cases": [bulk] * BATCH}, headers=scientist)
                        if r.status_code == 201:
                            assert len(r.json()["results"]) == BATCH
                            with self.lock:
                                self.acked_batches += 1
                    elif i % 3 == 0 and self.acked_screenings:
                        with self.lock:
                            sid = next(iter(self.acked_screenings - self.acked_decisions), None)
                        if sid is None:
                            continue
                        r = http.post(
                            f"/v1/screenings/{sid}/decision",
                            json={"decision": "needs_more_information", "reason": "other"},
                            headers=screener,
                        )
                        if r.status_code == 201:
                            with self.lock:
                                self.acked_decisions.add(sid)
                    else:
                        r = http.post("/v1/screenings", json=example(case_ref=f"c-{k}-{i}"), headers=screener)
                        if r.status_code == 201:
                            with self.lock:
                                self.acked_screenings.add(r.json()["screening_id"])
                    self.requests += 1
                    if r.status_code >= 500 or r.status_code not in (201, 409):
                        self.errors.append(f"{r.status_code} {r.text[:200]}")
                except httpx.TransportError:
                    time.sleep(0.05)  # the server is down: keep trying until told to stop

    def run_until(self, seconds: float, server: LiveServer) -> None:
        """Load for ``seconds`` (and until a few requests were answered), then SIGKILL."""
        threads = [threading.Thread(target=self.worker, args=(k,)) for k in range(CLIENTS)]
        self.stop.clear()
        before = self.requests
        for t in threads:
            t.start()
        time.sleep(seconds)
        deadline = time.monotonic() + 20  # a busy machine may be slow to serve the first ones
        while self.requests < before + MIN_ANSWERED and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # while the clients are sending
        self.stop.set()
        for t in threads:
            t.join(timeout=30)
            assert not t.is_alive()


def rows(db_path: str, statement: str, *params: Any) -> list[Any]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(statement, params).fetchall()


@pytest.mark.slow
def test_sigkill_mid_load_loses_no_acknowledged_write(tmp_path: Path, db_url: str, keys: dict[str, str]) -> None:
    server = LiveServer(db_url=db_url, log_path=tmp_path / "server.log")
    load = Load(server.url, keys)
    for seconds in KILL_AFTER_SECONDS:
        server.start()
        before = load.requests
        load.run_until(seconds, server)
        assert load.requests > before, "no request was served before the kill"
    server.start()  # the restart after the last kill: the log must open and verify
    try:
        assert httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
    finally:
        server.stop()

    db = db_url.removeprefix("sqlite:///")
    stored = {sid for (sid,) in rows(db, "SELECT screening_id FROM screenings")}
    assert load.acked_screenings <= stored, "acknowledged screenings were lost"
    assert len(stored) == len(rows(db, "SELECT seq FROM screenings WHERE source = 'api'")), "a batch was screened"
    bulk = rows(db, "SELECT rows FROM bulk_scorings WHERE route = 'batch'")
    assert {n for (n,) in bulk} <= {BATCH}
    assert load.acked_batches <= len(bulk) <= load.sent_batches, "acknowledged bulk scoring calls were lost"
    assert load.acked_batches > 0
    decided = {sid for (sid,) in rows(db, "SELECT screening_id FROM decisions")}
    assert load.acked_decisions <= decided, "acknowledged decisions were lost"
    assert len(load.acked_screenings) > 10
    assert not load.errors, load.errors[:5]

    verified = tarozu("audit-log", "verify", "--database-url", db_url)
    assert verified.returncode == 0, verified.stderr
    assert "chain intact" in verified.stdout
