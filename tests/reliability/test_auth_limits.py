"""Failed API keys: limited per key id and per client address (429 with Retry-After), each
failure logged with its key id and never the key; and a request's key is checked from its
headers before any of its body is read."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.keys import key_id_of
from serving.ratelimit import FailureWindow, client_name
from tests.support.api import auth, example
from tests.support.live import LiveServer

WINDOW = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------- the window
def test_the_window_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    window = FailureWindow(limit=3, window=10.0, clock=clock)
    for _ in range(3):
        assert window.retry_after("a") == 0.0
        window.fail("a")
        clock.now += 1.0
    assert window.retry_after("a") == pytest.approx(7.0)  # the first failure leaves the window at 1010
    assert window.retry_after("b") == 0.0  # names are counted apart
    clock.now = 1010.0
    assert window.retry_after("a") == 0.0
    window.fail("a")  # the oldest is dropped: failures at 1001, 1002 and 1010
    assert window.retry_after("a") == pytest.approx(1.0)


def test_a_limit_of_zero_is_off_and_memory_is_bounded() -> None:
    off = FailureWindow(limit=0, window=10.0)
    for _ in range(100):
        off.fail("a")
    assert off.retry_after("a") == 0.0
    small = FailureWindow(limit=2, window=10.0, max_tracked=5)
    for i in range(50):
        small.fail(f"name-{i}")
    assert len(small._failures) == 5


def test_ipv6_clients_are_counted_by_their_64() -> None:
    assert client_name("2001:db8:1:2:aaaa::1") == client_name("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_name("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_name("192.0.2.7") == "192.0.2.7"
    assert client_name(None) is None


# ---------------------------------------------------------------------------- the API
def wrong_key_for(key: str, n: int = 0) -> str:
    """A key with the same key id and another secret."""
    return f"tarozu_{key_id_of(key)}_wrong-secret-{n}"


@pytest.mark.parametrize(
    "settings_overrides",
    [{"auth_failures_per_key_id": 2, "auth_failures_per_client": 0, "auth_failure_window_seconds": WINDOW}],
)
def test_a_key_id_with_too_many_failures_gets_429_but_its_owner_gets_in(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="serving.auth")
    key = keys["screener"]
    statuses = [client.get("/v1/model", headers={"X-API-Key": wrong_key_for(key, n)}).status_code for n in range(3)]
    assert statuses == [401, 401, 429]
    refused = client.get("/v1/model", headers={"X-API-Key": wrong_key_for(key, 9)})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_failures"
    assert 1 <= int(refused.headers["retry-after"]) <= WINDOW
    # the right key is not locked out by others' failures with its key id
    assert client.get("/v1/model", headers=auth(keys, "screener")).status_code == 200
    # another key id is counted apart
    assert client.get("/v1/model", headers={"X-API-Key": wrong_key_for(keys["reviewer"])}).status_code == 401
    # every failure is logged with its key id, never with the key or its secret
    key_id = key_id_of(key)
    failures = [r.getMessage() for r in caplog.records if "refused (invalid_api_key)" in r.getMessage()]
    assert len(failures) == 5
    assert all(f"key_id={key_id}" in line for line in failures[:4])
    assert "wrong-secret" not in caplog.text
    assert key not in caplog.text


@pytest.mark.parametrize(
    "settings_overrides",
    [{"auth_failures_per_key_id": 0, "auth_failures_per_client": 3, "auth_failure_window_seconds": WINDOW}],
)
def test_a_client_with_too_many_failures_gets_429_until_the_window_has_room(
    client: TestClient, keys: dict[str, str]
) -> None:
    app: Any = client.app
    clock = Clock()
    app.state.auth_failures.clients.clock = clock
    bad = [f"tarozu_{i:012x}_not-a-key" for i in range(4)]
    assert [client.post("/v1/screenings", json=example(), headers={"X-API-Key": k}).status_code for k in bad] == [
        401,
        401,
        401,
        429,
    ]
    # the address is locked: even a right key waits (the limit is there to slow a guesser down)
    locked = client.get("/v1/model", headers=auth(keys, "reviewer"))
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) == WINDOW
    clock.now += WINDOW / 2
    assert int(client.get("/v1/model", headers=auth(keys, "reviewer")).headers["retry-after"]) == WINDOW / 2
    clock.now += WINDOW / 2
    assert client.get("/v1/model", headers=auth(keys, "reviewer")).status_code == 200
    # a request without any key is no guess: 401, not counted
    for _ in range(5):
        assert client.get("/v1/model").status_code == 401
    assert client.get("/v1/model", headers=auth(keys, "reviewer")).status_code == 200
    # routes that need no key are never limited
    assert client.get("/health").status_code == 200


def test_a_key_id_with_a_line_break_is_not_written_to_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="serving.auth")
    forged = "tarozu_abc\rINFO forged line_secret"
    assert client.get("/v1/model", headers={"X-API-Key": forged.replace("\r", "%0D")}).status_code == 401
    assert client.get("/v1/model", headers={"X-API-Key": "tarozu_" + "a" * 40 + "_x"}).status_code == 401
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert all("key_id=- " in line for line in lines)
    assert "forged" not in caplog.text


def test_default_limits_are_set() -> None:
    from serving.settings import Settings

    s = Settings(environment="development")
    assert s.auth_failures_per_client > s.auth_failures_per_key_id > 0
    assert s.auth_failure_window_seconds >= 60


# ---------------------------------------------------------------------------- no body before the key
def _held_request(server: LiveServer, key: str | None, *, length: int = 20_000_000) -> socket.socket:
    """A POST whose headers are sent and whose body is held back."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    lines = [
        "POST /v1/screenings:batch HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    if key is not None:
        lines.append(f"X-API-Key: {key}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sock.sendall(b'{"cases": [')  # a start, then nothing
    return sock


def _status_within(sock: socket.socket, seconds: float) -> int | None:
    sock.settimeout(seconds)
    try:
        head = sock.recv(65536)
    except TimeoutError:
        return None
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None


@pytest.mark.slow
def test_the_key_is_checked_before_the_body_is_read(live_server: LiveServer, keys: dict[str, str]) -> None:
    for key in (None, "tarozu_000000000000_wrong", wrong_key_for(keys["data-scientist"])):
        sock = _held_request(live_server, key)
        started = time.monotonic()
        try:
            assert _status_within(sock, 5.0) == 401, key
        finally:
            sock.close()
        assert time.monotonic() - started < 2.0
    # With the right key the server waits for the body it was promised: the check above is
    # what makes the difference, not a short read timeout.
    sock = _held_request(live_server, keys["data-scientist"])
    try:
        assert _status_within(sock, 1.0) is None
    finally:
        sock.close()
