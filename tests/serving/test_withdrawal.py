"""The stop procedure: an admin withdraws the served model, scoring stops with a 503 that says when,
by whom and why, the withdrawal is logged in the chain, it survives a restart, and reinstating
(or loading another version) resumes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.cli import main
from serving.app import create_app
from serving.auditlog.database import make_engine
from serving.auditlog.writer import verify_chain
from serving.keys import key_id_of
from serving.settings import Settings
from tests.support.api import ModelBox, auth, count_rows, example, registered, screen

WITHDRAW, REINSTATE = "/v1/admin/model:withdraw", "/v1/admin/model:reinstate"
REASON = {"reason": "miss-rate disparity for women in the field audit"}
BULK = {k: v for k, v in example().items() if k not in ("screener_assessment", "case_ref")}


def scoring_calls(client: TestClient, keys: dict[str, str]) -> dict[str, Any]:
    """Every scoring route, called as its role would."""
    return {
        "screening": client.post("/v1/screenings", json=example(), headers=auth(keys, "screener")),
        "batch": client.post("/v1/screenings:batch", json={"cases": [BULK]}, headers=auth(keys, "data-scientist")),
        "invocations": client.post(
            "/invocations", json={"dataframe_records": [{"debt_bondage": "yes"}]}, headers=auth(keys, "data-scientist")
        ),
    }


def assert_stopped(client: TestClient, keys: dict[str, str], *, by: str, reason: str) -> None:
    for route, response in scoring_calls(client, keys).items():
        assert response.status_code == 503, (route, response.text)
        error = response.json()["error"]
        assert error["code"] == "model_withdrawn", route
        withdrawal = error["withdrawal"]
        assert (withdrawal["model_name"], withdrawal["model_version"]) == ("tarozu-screening", "1")
        assert (withdrawal["key_id"], withdrawal["reason"]) == (by, reason)
        assert withdrawal["withdrawn_at"] in error["message"]
        assert by in error["message"]
        assert reason in error["message"]
        assert "reinstate" in error["message"]
        assert "promote" in error["message"]
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["withdrawal"]["reason"] == reason


def events(db_url: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(
            "SELECT action, model_name, model_version, role, key_id, reason FROM model_events ORDER BY seq"
        ).fetchall()


def chain_intact(db_url: str) -> bool:
    engine = make_engine(db_url)
    try:
        return verify_chain(engine).intact
    finally:
        engine.dispose()


def test_withdrawal_stops_every_scoring_route_and_is_logged(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    sid = screen(client, keys)["screening_id"]
    assert all(r.status_code in (200, 201) for r in scoring_calls(client, keys).values())
    screenings, bulk = count_rows(db_url, "screenings"), count_rows(db_url, "bulk_scorings")
    response = client.post(WITHDRAW, json=REASON, headers=auth(keys, "admin"))
    assert response.status_code == 201, response.text
    admin = key_id_of(keys["admin"])
    assert response.json()["model"] == {"name": "tarozu-screening", "version": "1"}
    assert (response.json()["action"], response.json()["key_id"]) == ("withdraw", admin)
    assert_stopped(client, keys, by=admin, reason=REASON["reason"])
    # Nothing was scored or logged while stopped; the withdrawal is a chained audit event.
    assert (count_rows(db_url, "screenings"), count_rows(db_url, "bulk_scorings")) == (screenings, bulk)
    assert events(db_url) == [("withdraw", "tarozu-screening", "1", "admin", admin, REASON["reason"])]
    assert chain_intact(db_url)
    # People already screened keep their record: decisions and outcomes are not scoring.
    decision = {"decision": "needs_more_information", "reason": "other"}
    assert client.post(f"/v1/screenings/{sid}/decision", json=decision, headers=auth(keys, "screener")).is_success
    # A second withdrawal changes nothing and says so.
    again = client.post(WITHDRAW, json=REASON, headers=auth(keys, "admin"))
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_withdrawn")
    assert len(events(db_url)) == 1


def test_a_restart_stays_stopped_until_an_admin_reinstates(
    settings: Settings, keys: dict[str, str], db_url: str
) -> None:
    admin = key_id_of(keys["admin"])
    with TestClient(create_app(settings, model_loader=ModelBox().load)) as client:
        assert client.post(WITHDRAW, json=REASON, headers=auth(keys, "admin")).status_code == 201
    with TestClient(create_app(settings, model_loader=ModelBox().load)) as client:  # restarted
        assert_stopped(client, keys, by=admin, reason=REASON["reason"])
        back = client.post(
            REINSTATE, json={"reason": "disparity explained: data entry error"}, headers=auth(keys, "admin")
        )
        assert back.status_code == 201, back.text
        assert all(r.status_code in (200, 201) for r in scoring_calls(client, keys).values())
        assert client.get("/ready").status_code == 200
        again = client.post(REINSTATE, json=REASON, headers=auth(keys, "admin"))
        assert (again.status_code, again.json()["error"]["code"]) == (409, "not_withdrawn")
    with TestClient(create_app(settings, model_loader=ModelBox().load)) as client:  # and it stays resumed
        assert screen(client, keys)
    assert [e[0] for e in events(db_url)] == ["withdraw", "reinstate"]
    assert chain_intact(db_url)


def test_loading_another_version_resumes_and_the_withdrawn_one_stays_stopped(
    client: TestClient, keys: dict[str, str], model_box: ModelBox
) -> None:
    assert client.post(WITHDRAW, json=REASON, headers=auth(keys, "admin")).status_code == 201
    # Reloading the same (withdrawn) version does not resume.
    assert client.post("/v1/admin/reload", headers=auth(keys, "data-scientist")).status_code == 200
    assert client.post("/v1/screenings", json=example(), headers=auth(keys, "screener")).status_code == 503
    model_box.current = registered("2", seed=1)  # a new champion was promoted
    assert client.post("/v1/admin/reload", headers=auth(keys, "data-scientist")).status_code == 200
    assert screen(client, keys)["model"] == {"name": "tarozu-screening", "version": "2"}
    assert client.get("/ready").status_code == 200


@pytest.mark.parametrize("role", ["screener", "specialist", "reviewer", "data-scientist"])
def test_only_admins_withdraw_or_reinstate(client: TestClient, keys: dict[str, str], db_url: str, role: str) -> None:
    for url in (WITHDRAW, REINSTATE):
        response = client.post(url, json=REASON, headers=auth(keys, role))
        assert response.status_code == 403
        assert response.json()["error"]["allowed"] == ["admin"]
    assert client.post(WITHDRAW, json=REASON).status_code == 401
    assert events(db_url) == []
    assert screen(client, keys)


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "missing_field"), ({"reason": ""}, "invalid_value"), ({"reason": "x" * 501}, "invalid_value"),
     ({"reason": "ok", "version": "1"}, "unknown_field")],
    ids=["no-reason", "empty", "too-long", "unknown-field"],
)  # fmt: skip
def test_a_withdrawal_needs_a_reason(
    client: TestClient, keys: dict[str, str], db_url: str, body: dict[str, Any], code: str
) -> None:
    response = client.post(WITHDRAW, json=body, headers=auth(keys, "admin"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert events(db_url) == []
    assert screen(client, keys)


@pytest.mark.parametrize("settings_overrides", [{"key_cache_seconds": 0.2}])
def test_the_command_line_withdraws_a_running_server_and_reinstates_it(
    client: TestClient, keys: dict[str, str], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["model", "--database-url", db_url]
    assert main([*args, "withdraw", "--version", "1", "--reason", "data incident"]) == 0
    assert "withdrawn" in capsys.readouterr().out
    deadline = time.monotonic() + 10
    while client.get("/ready").status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_stopped(client, keys, by="cli", reason="data incident")
    assert main([*args, "withdraw", "--version", "1", "--reason", "again"]) == 1
    assert "already withdrawn" in capsys.readouterr().err
    assert main([*args, "status"]) == 0
    assert "WITHDRAWN: tarozu-screening version 1" in capsys.readouterr().out
    assert main([*args, "reinstate", "--version", "1", "--reason", "resolved"]) == 0
    deadline = time.monotonic() + 10
    while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert screen(client, keys)
    assert main([*args, "reinstate", "--version", "1", "--reason", "again"]) == 1
    assert main([*args, "withdraw", "--version", "1", "--reason", " "]) == 2
    assert [e[0] for e in events(db_url)] == ["withdraw", "reinstate"]
    assert chain_intact(db_url)
