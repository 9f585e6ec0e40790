"""After a screening: the decision (once), outcomes, corrections, and reading the log back."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.questionnaire import load_questionnaire
from tests.support.api import auth, count_rows, screen


def decide(client: TestClient, keys: dict[str, str], sid: str, body: dict[str, Any], role: str = "screener") -> Any:
    return client.post(f"/v1/screenings/{sid}/decision", json=body, headers=auth(keys, role))


DECISION_OF_STATUS = {"refer": "referred", "no_referral": "not_referred", "ask_more": "needs_more_information"}


def matching(body: dict[str, Any]) -> str:
    """The decision that follows the recommendation (ask_more is followed by needing more information)."""
    return DECISION_OF_STATUS[body["recommendation"]["status"]]


def contrary(body: dict[str, Any]) -> str:
    return "not_referred" if body["recommendation"]["refer"] else "referred"


# ---------------------------------------------------------------------------- decisions
@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "ask_more"),
        ({"danger": "yes"}, "refer"),
        (
            {
                "answers": {f.id: "no" for f in load_questionnaire().applicable("prospective")},
                "context": {"migrant_status": "prospective"},
                "not_asked_reasons": {},
            },
            "no_referral",
        ),
    ],
    ids=["ask_more", "refer", "no_referral"],
)
def test_each_status_is_followed_by_its_own_decision(
    client: TestClient, keys: dict[str, str], changes: dict[str, Any], status: str
) -> None:
    body = screen(client, keys, **changes)
    assert body["recommendation"]["status"] == status
    for other in sorted(set(DECISION_OF_STATUS.values()) - {matching(body)}):
        sid = screen(client, keys, **changes)["screening_id"]
        response = decide(client, keys, sid, {"decision": other})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "reason_required"
    response = decide(client, keys, body["screening_id"], {"decision": matching(body)})
    assert response.status_code == 201, response.text
    assert response.json()["differs_from_recommendation"] is False
    assert response.json()["recommendation_refer"] is (status == "refer")


def test_decision_following_the_recommendation_needs_no_reason(client: TestClient, keys: dict[str, str]) -> None:
    body = screen(client, keys)
    response = decide(client, keys, body["screening_id"], {"decision": matching(body)})
    assert response.status_code == 201, response.text
    assert response.json()["differs_from_recommendation"] is False


def test_decision_against_the_recommendation_needs_a_reason(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    body = screen(client, keys)
    response = decide(client, keys, body["screening_id"], {"decision": contrary(body)})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("reason", "reason_required")
    assert "screener_judgement" in error["allowed"]
    assert count_rows(db_url, "decisions") == 0
    response = decide(
        client,
        keys,
        body["screening_id"],
        {"decision": contrary(body), "reason": "person_declined_referral", "reason_text": "Wants to think about it."},
    )
    assert response.status_code == 201
    assert response.json()["differs_from_recommendation"] is True


def test_second_decision_is_409(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    sid = screen(client, keys)["screening_id"]
    assert decide(client, keys, sid, {"decision": "needs_more_information", "reason": "other"}).status_code == 201
    response = decide(client, keys, sid, {"decision": "needs_more_information", "reason": "other"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert count_rows(db_url, "decisions") == 1


def test_two_concurrent_decisions_give_one_201_and_one_409(client: TestClient, keys: dict[str, str]) -> None:
    body = {"decision": "needs_more_information", "reason": "additional_information"}
    for _ in range(3):
        sid = screen(client, keys)["screening_id"]
        with ThreadPoolExecutor(2) as pool:
            statuses = sorted(pool.map(lambda s: decide(client, keys, s, body).status_code, [sid, sid]))
        assert statuses == [201, 409]


def test_the_database_itself_refuses_a_second_decision(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    sid = screen(client, keys)["screening_id"]
    decide(client, keys, sid, {"decision": "needs_more_information", "reason": "other"})
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO decisions (seq, created_at, role, key_id, screening_id, decision, recommendation_refer, "
            "differs, prev_hash, hash) VALUES (999, 'x', 'screener', 'k', ?, 'referred', 1, 0, 'a', 'b')",
            (sid,),
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"decision": "referred", "reason": "bored"}, "reason"),
        ({"decision": "referred", "reason_text": "x" * 501}, "reason_text"),
        ({"decision": "referred", "extra": 1}, "extra"),
        ({}, "decision"),
    ],
)
def test_bad_decisions_are_422(client: TestClient, keys: dict[str, str], body: dict[str, Any], field: str) -> None:
    sid = screen(client, keys)["screening_id"]
    response = decide(client, keys, sid, body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert "xxxxx" not in response.text  # free text is never echoed


def test_decision_on_unknown_screening_is_404(client: TestClient, keys: dict[str, str]) -> None:
    response = decide(client, keys, "no-such-id", {"decision": "referred"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ["specialist", "reviewer", "data-scientist", "admin"])
def test_only_screeners_and_supervisors_decide(client: TestClient, keys: dict[str, str], role: str) -> None:
    sid = screen(client, keys)["screening_id"]
    assert decide(client, keys, sid, {"decision": "referred"}, role=role).status_code == 403


# ---------------------------------------------------------------------------- outcomes
def test_specialist_records_outcomes(client: TestClient, keys: dict[str, str]) -> None:
    sid = screen(client, keys)["screening_id"]
    url = f"/v1/screenings/{sid}/outcome"
    assert client.post(url, json={"outcome": "unknown"}, headers=auth(keys, "specialist")).status_code == 201
    assert client.post(url, json={"outcome": "labour"}, headers=auth(keys, "specialist")).status_code == 201
    assert client.post(url, json={"outcome": "labour"}, headers=auth(keys, "screener")).status_code == 403
    assert client.post(url, json={"outcome": "trafficked"}, headers=auth(keys, "specialist")).status_code == 422
    record = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "reviewer")).json()
    assert [o["outcome"] for o in record["outcomes"]] == ["unknown", "labour"]
    missing = client.post("/v1/screenings/nope/outcome", json={"outcome": "none"}, headers=auth(keys, "specialist"))
    assert missing.status_code == 404


# ---------------------------------------------------------------------------- corrections
def correct(client: TestClient, keys: dict[str, str], sid: str, body: dict[str, Any]) -> Any:
    return client.post(f"/v1/screenings/{sid}/corrections", json=body, headers=auth(keys, "screener"))


@pytest.mark.parametrize("settings_overrides", [{"show_probabilities_to_screeners": True}])  # compares probabilities
def test_corrections_keep_the_original(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    first = screen(client, keys)
    sid = first["screening_id"]
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT * FROM screenings").fetchall()
    steps: list[dict[str, Any]] = [
        {"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "Entered in the wrong row."},
        {"field": "isolation", "old_value": "yes", "new_value": "no", "reason": "Checked again with the form."},
        {"field": "months_abroad", "old_value": 14, "new_value": 30, "reason": "Typo."},
        {"field": "gender", "old_value": "man", "new_value": "unknown", "reason": "Not asked after all."},
    ]
    for step in steps:
        response = correct(client, keys, sid, step)
        assert response.status_code == 201, response.text
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT * FROM screenings").fetchall() == before
    record = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "reviewer")).json()
    assert record["original"]["answers"]["isolation"] == "not_asked"
    assert record["current"]["answers"]["isolation"] == "no"
    assert (record["original"]["context"]["months_abroad"], record["current"]["context"]["months_abroad"]) == (14, 30)
    assert record["current"]["monitoring"]["gender"] == "unknown"
    assert record["current"]["screener_assessment"] == record["original"]["screener_assessment"] == "medium"
    assert [(c["field"], c["old_value"], c["new_value"]) for c in record["corrections"]] == [
        (s["field"], s["old_value"], s["new_value"]) for s in steps
    ]
    assert record["result"]["outcomes"]["labour"]["probability"] == first["outcomes"]["labour"]["probability"]


def test_stale_correction_is_409(client: TestClient, keys: dict[str, str]) -> None:
    sid = screen(client, keys)["screening_id"]
    response = correct(
        client, keys, sid, {"field": "documents_withheld", "old_value": "no", "new_value": "yes", "reason": "r"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["allowed"] == ["yes"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"field": "documents_withheld", "old_value": "yes", "new_value": "maybe", "reason": "r"}, "new_value"),
        ({"field": "documents_withheld", "old_value": "yes", "new_value": "unknown", "reason": "r"}, "new_value"),
        ({"field": "danger", "old_value": "no", "new_value": "yes", "reason": "r"}, "field"),
        ({"field": "months_abroad", "old_value": 14, "new_value": 700, "reason": "r"}, "new_value"),
        ({"field": "screener_assessment", "old_value": "medium", "new_value": "extreme", "reason": "r"}, "field"),
        ({"field": "no_such_field", "old_value": "a", "new_value": "b", "reason": "r"}, "field"),
        ({"field": "documents_withheld", "old_value": "yes", "new_value": "no"}, "reason"),
        ({"field": "documents_withheld", "old_value": "yes", "new_value": "no", "reason": "r" * 501}, "reason"),
        ({"field": "months_abroad", "old_value": 1 << 87, "new_value": 3, "reason": "r"}, "old_value"),  # fuzzer
        ({"field": "months_abroad", "old_value": 14, "new_value": -(1 << 64), "reason": "r"}, "new_value"),
    ],
)
def test_bad_corrections_are_422(
    client: TestClient, keys: dict[str, str], db_url: str, body: dict[str, Any], field: str
) -> None:
    sid = screen(client, keys)["screening_id"]
    response = correct(client, keys, sid, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert "rrrrr" not in response.text  # free text is never echoed
    assert count_rows(db_url, "corrections") == 0


def test_correction_of_unknown_screening_is_404(client: TestClient, keys: dict[str, str]) -> None:
    body = {"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "r"}
    assert correct(client, keys, "nope", body).status_code == 404


# ---------------------------------------------------------------------------- reading
def test_read_one_screening_roles(client: TestClient, keys: dict[str, str]) -> None:
    sid = screen(client, keys)["screening_id"]
    for role in ("screener", "specialist", "reviewer", "data-scientist"):
        assert client.get(f"/v1/screenings/{sid}", headers=auth(keys, role)).status_code == 200
    assert client.get(f"/v1/screenings/{sid}", headers=auth(keys, "admin")).status_code == 403
    assert client.get(f"/v1/screenings/{sid}").status_code == 401
    assert client.get("/v1/screenings/unknown", headers=auth(keys, "reviewer")).status_code == 404
    record = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "reviewer")).json()
    assert record["has_case_ref"] is True
    assert "NRM-2026-0042" not in str(record)


@pytest.mark.parametrize("settings_overrides", [{"show_probabilities_to_screeners": True}])  # compares probabilities
def test_list_screenings_with_decisions_paged(client: TestClient, keys: dict[str, str]) -> None:
    bodies = [screen(client, keys) for _ in range(5)]
    decide(client, keys, bodies[1]["screening_id"], {"decision": "needs_more_information", "reason": "other"})
    url = "/v1/screenings"
    page = client.get(url, params={"page": 1, "page_size": 2}, headers=auth(keys, "reviewer")).json()
    assert page["total"] == 5
    assert len(page["items"]) == 2
    assert [i["screening_id"] for i in page["items"]] == [b["screening_id"] for b in bodies[:2]]
    assert page["items"][1]["decision"] == "needs_more_information"
    assert page["items"][0]["labour_probability"] == bodies[0]["outcomes"]["labour"]["probability"]
    last = client.get(url, params={"page": 3, "page_size": 2}, headers=auth(keys, "data-scientist")).json()
    assert len(last["items"]) == 1
    created = bodies[2]["created_at"]
    since = client.get(url, params={"from": created}, headers=auth(keys, "reviewer")).json()
    assert since["total"] == 3
    until = client.get(url, params={"to": created}, headers=auth(keys, "reviewer")).json()
    assert until["total"] == 2
    future = client.get(url, params={"from": "2999-01-01"}, headers=auth(keys, "reviewer")).json()
    assert future["total"] == 0


@pytest.mark.parametrize("params", [{"page": 0}, {"page_size": 501}, {"from": "yesterday"}, {"page": "x"}])
def test_list_bad_parameters_are_422(client: TestClient, keys: dict[str, str], params: dict[str, Any]) -> None:
    response = client.get("/v1/screenings", params=params, headers=auth(keys, "reviewer"))
    assert response.status_code == 422
    assert response.json()["error"]["field"] in {"page", "page_size", "from"}


@pytest.mark.parametrize("role", ["specialist", "admin"])
def test_list_needs_a_listing_role(client: TestClient, keys: dict[str, str], role: str) -> None:
    assert client.get("/v1/screenings", headers=auth(keys, role)).status_code == 403
