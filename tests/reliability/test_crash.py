"""Crash safety: SIGKILL the live server mid-load, three times, and restart it.

Every screening, batch and decision that was acknowledged with a 2xx is in the audit log
after the restarts; a batch that was not acknowledged is there whole or not at all; and
``tarozu audit-log verify`` passes.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_support import TEST_SECRET, LiveServer, example

BATCH = 5
CLIENTS = 4
KILL_AFTER_SECONDS = (0.4, 1.2, 2.5)  # three kill points into the load after each start
TIME_LIMIT = 60.0
MIN_ANSWERED = 8


def tarozu(*args: str) -> subprocess.CompletedProcess[str]:
    import sys

    tool = Path(sys.executable).parent / "tarozu"
    return subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=120, check=False)


def case_hmac(ref: str) -> str:
    return hmac.new(TEST_SECRET.encode(), ref.encode(), hashlib.sha256).hexdigest()


class Load:
    """Client threads screening (single and batch) and deciding until told to stop."""

    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url = url
        self.keys = keys
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked_screenings: set[str] = set()
        self.acked_batches: dict[str, list[str]] = {}
        self.unacked_batches: set[str] = set()
        self.acked_decisions: set[str] = set()
        self.errors: list[str] = []
        self.requests = 0

    def worker(self, k: int) -> None:
        screener = {"X-API-Key": self.keys["screener"]}
        deadline = time.monotonic() + TIME_LIMIT
        with httpx.Client(base_url=self.url, timeout=10.0) as http:
            i = 0
            while not self.stop.is_set() and time.monotonic() < deadline:
                i += 1
                try:
                    if i % 4 == 0:
                        ref = f"batch-{uuid.uuid4()}"
                        cases = [example(case_ref=ref) for _ in range(BATCH)]
                        with self.lock:
                            self.unacked_batches.add(ref)
                        r = http.post("/v1/screenings:batch", json={"cases": cases}, headers=screener)
                        if r.status_code == 201:
                            ids = [c["screening_id"] for c in r.json()["results"]]
                            with self.lock:
                                self.unacked_batches.discard(ref)
                                self.acked_batches[ref] = ids
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
    batch_ids = {sid for ids in load.acked_batches.values() for sid in ids}
    assert batch_ids <= stored, "acknowledged batch screenings were lost"
    decided = {sid for (sid,) in rows(db, "SELECT screening_id FROM decisions")}
    assert load.acked_decisions <= decided, "acknowledged decisions were lost"
    for ref in load.unacked_batches:  # all or nothing
        (n,) = rows(db, "SELECT count(*) FROM screenings WHERE case_ref_hmac = ?", case_hmac(ref))[0]
        assert n in (0, BATCH), f"batch {ref} half-written: {n} of {BATCH} rows"
    assert len(load.acked_screenings) > 10
    assert not load.errors, load.errors[:5]

    verified = tarozu("audit-log", "verify", "--database-url", db_url)
    assert verified.returncode == 0, verified.stderr
    assert "chain intact" in verified.stdout
