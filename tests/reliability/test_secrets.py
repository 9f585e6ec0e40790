"""Secrets and privacy: no key, HMAC secret or case reference in logs, error bodies or the
audit database in clear; keys compared in constant time.

Covered in ``tests/serving/test_app.py`` and not repeated here: placeholder secrets refused
outside development (``test_placeholder_secret_is_refused_outside_development``,
``test_serve_refuses_a_placeholder_secret``), CORS closed by default
(``test_cors_is_closed_by_default``), security headers on ``/`` and every response
(``test_security_headers_on_every_response``, ``test_web_page_at_root``).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import serving.keys
from tests.support.api import TEST_SECRET, example
from tests.support.live import LiveServer

CASE_REF = "CASE-REF-7f3a9c-Müller-Ж"
REASON_TEXT = "free-text note, stored and shown to reviewers"


def test_no_secret_in_live_server_logs_bodies_or_database(live_server: LiveServer, keys: dict[str, str]) -> None:
    bodies: list[str] = []
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        screener = {"X-API-Key": keys["screener"]}
        r = http.post("/v1/screenings", json=example(case_ref=CASE_REF), headers=screener)
        assert r.status_code == 201
        sid = r.json()["screening_id"]
        bad = [
            http.post("/v1/screenings", json=example(case_ref=CASE_REF, bogus=1), headers=screener),
            http.post("/v1/screenings", json=example(case_ref=[CASE_REF]), headers=screener),
            http.post("/v1/screenings", json=example(case_ref=CASE_REF), headers={"X-API-Key": keys["reviewer"]}),
            http.post("/v1/screenings", json=example(case_ref=CASE_REF), headers={"X-API-Key": keys["screener"] + "x"}),
            http.post(
                f"/v1/screenings/{sid}/decision",
                json={"decision": "referred", "reason": CASE_REF, "reason_text": REASON_TEXT},
                headers=screener,
            ),
            http.get(f"/v1/screenings/{sid}", headers={"Authorization": f"Basic {keys['admin']}"}),
        ]
        bodies += [b.text for b in bad]
        assert all(400 <= b.status_code < 500 for b in bad), [b.status_code for b in bad]
        ok = http.post(
            f"/v1/screenings/{sid}/decision",
            json={"decision": "needs_more_information", "reason": "other", "reason_text": REASON_TEXT},
            headers=screener,
        )
        bodies.append(ok.text)
        bodies.append(http.get(f"/v1/screenings/{sid}", headers={"X-API-Key": keys["reviewer"]}).text)
    live_server.stop()
    log = live_server.log_path.read_text(errors="replace")
    assert "Application startup complete" in log  # the log was captured
    secrets = [*keys.values(), TEST_SECRET, CASE_REF]
    for secret in secrets:
        assert secret not in log
        for body in bodies:
            assert secret not in body
    db = Path(live_server.db_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    for secret in secrets:
        assert secret.encode() not in stored
    assert hmac.new(TEST_SECRET.encode(), CASE_REF.encode(), "sha256").hexdigest().encode() in stored


def test_keys_are_compared_in_constant_time(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(serving.keys.hmac, "compare_digest", spy)
    assert client.get("/v1/model", headers={"X-API-Key": keys["reviewer"]}).status_code == 200
    # a right key is checked once, before the body is read (serving.middleware), which hands its
    # principal to the route (serving.deps.caller_principal: the route checks the role)
    assert len(calls) == 1
    wrong = keys["reviewer"][:-2] + ("aa" if not keys["reviewer"].endswith("aa") else "bb")
    assert client.get("/v1/model", headers={"X-API-Key": wrong}).status_code == 401
    assert len(calls) == 2  # a wrong one once: it never reaches the route
