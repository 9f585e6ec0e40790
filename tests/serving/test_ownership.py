"""A screener's screenings are theirs; a supervisor's override is logged as one; each role reads its view;
the screener's own assessment is never corrected (issue 14)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from models.engine import ScreeningEngine
from serving.auditlog.database import make_engine
from serving.auditlog.queries import HIDDEN_FROM_SCREENERS, without_probabilities
from serving.auditlog.writer import verify_chain
from serving.keys import key_id_of
from tests.support.api import auth, count_rows, example, registered, screen

DECISION = {"decision": "needs_more_information", "reason": "additional_information"}
CORRECTION = {"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "Wrong row."}
WHY = "Screener A is on leave; decided with the team lead."


@pytest.fixture
def other(client: TestClient, keys: dict[str, str]) -> dict[str, str]:
    """``keys`` with a second screener's key as ``other``."""
    made = client.post("/v1/admin/keys", json={"role": "screener"}, headers=auth(keys, "admin"))
    assert made.status_code == 201, made.text
    return {**keys, "other": made.json()["key"]}


def post(client: TestClient, key: str, sid: str, what: str, body: dict[str, Any]) -> Any:
    return client.post(f"/v1/screenings/{sid}/{what}", json=body, headers={"X-API-Key": key})


def rows(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql).fetchall()


def key_id(keys: dict[str, str], who: str) -> str:
    found = key_id_of(keys[who])
    assert found is not None
    return found


# ---------------------------------------------------------------------------- decisions and corrections
def test_another_screener_cannot_decide_and_the_owner_still_can(
    client: TestClient, other: dict[str, str], db_url: str
) -> None:
    sid = screen(client, other)["screening_id"]
    taken = post(client, other["other"], sid, "decision", DECISION)
    assert taken.status_code == 404, taken.text
    unknown = post(client, other["other"], "no-such-id", "decision", DECISION)
    assert taken.text.replace(sid, "ID") == unknown.text.replace("no-such-id", "ID")
    assert count_rows(db_url, "decisions") == 0
    mine = post(client, other["screener"], sid, "decision", DECISION)
    assert mine.status_code == 201, mine.text
    assert mine.json()["override"] is False


def test_another_screener_cannot_correct(client: TestClient, other: dict[str, str], db_url: str) -> None:
    sid = screen(client, other)["screening_id"]
    assert post(client, other["other"], sid, "corrections", CORRECTION).status_code == 404
    assert count_rows(db_url, "corrections") == 0
    mine = post(client, other["screener"], sid, "corrections", CORRECTION)
    assert mine.status_code == 201, mine.text
    assert mine.json()["override"] is False


@pytest.mark.parametrize("what", ["decision", "corrections"])
def test_a_supervisor_must_say_why(client: TestClient, keys: dict[str, str], db_url: str, what: str) -> None:
    sid = screen(client, keys)["screening_id"]
    body = DECISION if what == "decision" else CORRECTION
    response = post(client, keys["supervisor"], sid, what, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("override_reason", "override_reason_required")
    assert "override" in error["message"]
    assert count_rows(db_url, "decisions") + count_rows(db_url, "corrections") == 0


@pytest.mark.parametrize("what", ["decision", "corrections"])
def test_a_screener_may_not_claim_an_override(client: TestClient, keys: dict[str, str], db_url: str, what: str) -> None:
    sid = screen(client, keys)["screening_id"]
    body = {**(DECISION if what == "decision" else CORRECTION), "override_reason": "secret-text-xyz"}
    response = post(client, keys["screener"], sid, what, body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "override_not_allowed"
    assert "secret-text-xyz" not in response.text  # free text is never echoed
    assert count_rows(db_url, "decisions") + count_rows(db_url, "corrections") == 0


@pytest.mark.parametrize("reason", ["", "x" * 501])
def test_a_bad_override_reason_is_422(client: TestClient, keys: dict[str, str], reason: str) -> None:
    sid = screen(client, keys)["screening_id"]
    response = post(client, keys["supervisor"], sid, "decision", {**DECISION, "override_reason": reason})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "override_reason"


def test_a_supervisor_override_is_logged_as_one(
    client: TestClient, keys: dict[str, str], db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sid = screen(client, keys)["screening_id"]
    supervisor = key_id(keys, "supervisor")
    with caplog.at_level(logging.INFO, logger="serving.routes.screenings"):
        corrected = post(client, keys["supervisor"], sid, "corrections", {**CORRECTION, "override_reason": WHY})
        decided = post(client, keys["supervisor"], sid, "decision", {**DECISION, "override_reason": WHY})
    assert corrected.status_code == decided.status_code == 201, (corrected.text, decided.text)
    assert corrected.json()["override"] is decided.json()["override"] is True
    assert rows(db_url, "SELECT role, key_id, override_reason FROM decisions") == [("supervisor", supervisor, WHY)]
    assert rows(db_url, "SELECT role, key_id, override_reason FROM corrections") == [("supervisor", supervisor, WHY)]
    assert sum(f"key {supervisor}" in r.getMessage() and sid in r.getMessage() for r in caplog.records) == 2
    assert WHY not in caplog.text  # the reason is in the audit log, not the application log
    # A decision is final, whoever made it: the screener's own comes too late.
    late = post(client, keys["screener"], sid, "decision", DECISION)
    assert late.status_code == 409
    record = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "reviewer")).json()
    assert record["decision"]["override_reason"] == WHY
    assert (record["decision"]["role"], record["decision"]["key_id"]) == ("supervisor", supervisor)
    assert record["corrections"][0]["override_reason"] == WHY
    own = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "screener")).json()
    assert (own["decision"]["role"], own["decision"]["override_reason"]) == ("supervisor", WHY)
    assert supervisor not in orjson.dumps(own).decode()
    report = verify_chain(make_engine(db_url))
    assert report.intact, report.problem


def test_an_override_reason_removed_later_breaks_the_chain(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    sid = screen(client, keys)["screening_id"]
    post(client, keys["screener"], screen(client, keys)["screening_id"], "decision", DECISION)
    assert post(client, keys["supervisor"], sid, "decision", {**DECISION, "override_reason": WHY}).status_code == 201
    engine = make_engine(db_url)
    try:
        assert verify_chain(engine).intact
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute("UPDATE decisions SET override_reason = NULL WHERE override_reason IS NOT NULL")
        report = verify_chain(engine)
        assert not report.intact
        assert report.problem is not None
        assert report.problem.table == "decisions"
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- the screener's assessment
@pytest.mark.parametrize("who", ["screener", "supervisor"])
def test_the_screeners_assessment_is_never_corrected(
    client: TestClient, keys: dict[str, str], db_url: str, who: str
) -> None:
    sid = screen(client, keys)["screening_id"]
    body = {"field": "screener_assessment", "old_value": "medium", "new_value": "high", "reason": "Mis-click."}
    if who == "supervisor":
        body["override_reason"] = WHY
    response = post(client, keys[who], sid, "corrections", body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("field", "assessment_not_correctable")
    assert "before the score" in error["message"]
    assert "automation bias" in error["message"]
    assert count_rows(db_url, "corrections") == 0
    record = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "reviewer")).json()
    assert record["current"]["screener_assessment"] == "medium"


# ---------------------------------------------------------------------------- reading
def all_strings(value: Any) -> str:
    return orjson.dumps(value).decode()


def test_a_screener_reads_their_own_screening_without_probabilities(client: TestClient, other: dict[str, str]) -> None:
    sid = screen(client, other)["screening_id"]
    full = client.get(f"/v1/screenings/{sid}", headers=auth(other, "reviewer")).json()
    own = client.get(f"/v1/screenings/{sid}", headers=auth(other, "screener"))
    assert own.status_code == 200, own.text
    view = own.json()
    assert view["view"] == "screener"
    assert view["original"] == full["original"]
    assert (view["result"]["status"], view["result"]["leaning_tier"]) == (
        full["result"]["status"],
        full["result"]["leaning_tier"],
    )
    for name, outcome in view["result"]["outcomes"].items():
        assert not set(HIDDEN_FROM_SCREENERS) & set(outcome), name
        assert outcome["band"] == full["result"]["outcomes"][name]["band"]
        text = all_strings(view)
        for number in ("probability", "log_odds", "base_value"):
            assert repr(full["result"]["outcomes"][name][number]) not in text
    assert "key_id" not in all_strings(view)
    assert "outcomes" not in view
    theirs = client.get(f"/v1/screenings/{sid}", headers={"X-API-Key": other["other"]})
    assert theirs.status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"show_probabilities_to_screeners": True}])
def test_with_the_setting_a_screener_reads_the_probabilities(client: TestClient, keys: dict[str, str]) -> None:
    sid = screen(client, keys)["screening_id"]
    full = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "reviewer")).json()
    view = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "screener")).json()
    assert view["view"] == "screener"
    assert view["result"] == full["result"]


def test_a_specialist_reads_what_the_assessment_needs(client: TestClient, keys: dict[str, str]) -> None:
    sid = screen(client, keys)["screening_id"]
    post(client, keys["screener"], sid, "corrections", CORRECTION)
    post(client, keys["screener"], sid, "decision", {**DECISION, "reason_text": "free-text-abc"})
    post(client, keys["specialist"], sid, "outcome", {"outcome": "unknown"})
    full = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "reviewer")).json()
    response = client.get(f"/v1/screenings/{sid}", headers=auth(keys, "specialist"))
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["view"] == "specialist"
    assert view["answers"] == full["current"]["answers"]
    assert view["answers"]["isolation"] == "yes"
    assert view["context"] == full["current"]["context"]
    assert view["corrected_fields"] == ["isolation"]
    assert view["result"]["tier"] == full["result"]["tier"]
    assert view["result"]["status"] == full["result"]["status"]
    assert view["decision"]["decision"] == "needs_more_information"
    assert [o["outcome"] for o in view["outcomes"]] == ["unknown"]
    text = all_strings(view)
    keys_absent = (
        *('"monitoring"', '"gender"', '"age_band"'),
        *('"screener_assessment"', '"key_id"', '"role"', '"has_case_ref"'),
    )
    for absent in (*keys_absent, "khatlon", "free-text-abc", "Wrong row."):
        assert absent not in text, (absent, text[max(0, text.find(absent) - 200) : text.find(absent) + 50])
    for who in ("screener", "specialist"):
        assert key_id(keys, who) not in text


@pytest.mark.parametrize("role", ["supervisor", "reviewer", "data-scientist"])
def test_full_readers_read_everything(client: TestClient, keys: dict[str, str], role: str) -> None:
    sid = screen(client, keys)["screening_id"]
    record = client.get(f"/v1/screenings/{sid}", headers=auth(keys, role)).json()
    assert record["view"] == "full"
    assert record["key_id"] == key_id(keys, "screener")
    assert "probability" in record["result"]["outcomes"]["labour"]
    assert record["original"]["monitoring"]


def test_a_screener_lists_only_their_own_without_probabilities(client: TestClient, other: dict[str, str]) -> None:
    mine = {screen(client, other)["screening_id"] for _ in range(2)}
    response = client.post("/v1/screenings", json=example(), headers={"X-API-Key": other["other"]})
    theirs = response.json()["screening_id"]
    page = client.get("/v1/screenings", headers=auth(other, "screener")).json()
    assert page["total"] == 2
    assert {i["screening_id"] for i in page["items"]} == mine
    assert all(i["labour_probability"] is None and i["sexual_probability"] is None for i in page["items"])
    everything = client.get("/v1/screenings", headers=auth(other, "supervisor")).json()
    assert everything["total"] == 3
    assert theirs in {i["screening_id"] for i in everything["items"]}
    assert all(i["labour_probability"] is not None for i in everything["items"])


@pytest.mark.parametrize("settings_overrides", [{"show_probabilities_to_screeners": True}])
def test_with_the_setting_a_screeners_list_has_the_probabilities(client: TestClient, keys: dict[str, str]) -> None:
    body = screen(client, keys)
    [item] = client.get("/v1/screenings", headers=auth(keys, "screener")).json()["items"]
    assert item["labour_probability"] == body["outcomes"]["labour"]["probability"]


def test_the_screeners_view_hides_what_the_screeners_result_hides() -> None:
    """Every number the engine leaves out of a screener's result is left out of a logged one too."""
    engine = ScreeningEngine(registered().model)
    answers = dict(example()["answers"])
    assessment = engine.assess(engine.encode({**answers, **example()["context"]}))
    full, shown = engine.describe(assessment), engine.describe(assessment, probabilities=False)
    for name, outcome in full["outcomes"].items():
        hidden = set(outcome) - set(shown["outcomes"][name])
        hidden |= set(outcome["explanation"]) - set(shown["outcomes"][name]["explanation"])
        logged = set(assessment.compact()["outcomes"][name])
        assert hidden & logged, "the comparison found nothing to hide"
        assert hidden & logged <= set(HIDDEN_FROM_SCREENERS)
        assert not (logged - set(HIDDEN_FROM_SCREENERS)) & hidden
    stripped = without_probabilities({**assessment.compact(), "labour_probability": 0.3})
    assert "labour_probability" not in stripped
    assert all(not set(HIDDEN_FROM_SCREENERS) & set(o) for o in stripped["outcomes"].values())


def test_an_override_reason_is_cleaned_like_other_free_text(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    sid = screen(client, keys)["screening_id"]
    body = {**DECISION, "override_reason": " On leave;\r\nsecond line\u202e\x00 "}
    assert post(client, keys["supervisor"], sid, "decision", body).status_code == 201
    assert rows(db_url, "SELECT override_reason FROM decisions") == [("On leave;  second line",)]
    only_controls = post(
        client,
        keys["supervisor"],
        screen(client, keys)["screening_id"],
        "decision",
        {**DECISION, "override_reason": "\u202e\x00\r\n"},
    )
    assert only_controls.status_code == 422
    assert only_controls.json()["error"]["field"] == "override_reason"
