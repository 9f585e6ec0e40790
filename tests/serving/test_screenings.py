"""POST /v1/screenings: results, keys and roles, and every kind of bad input."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from models.additive import logit
from models.engine import Interview, ScreeningEngine
from models.questionnaire import load_questionnaire
from tests.support.api import TEST_SECRET, auth, count_rows, example, registered, screen

Q = load_questionnaire()
RETURNEE_QUESTIONS = [f.id for f in Q.applicable("returnee")]
"""What the example case (a returned migrant) may be asked."""
URL = "/v1/screenings"
SHOW = [{"show_probabilities_to_screeners": True}]
"""Settings for tests that compare the probabilities: screeners see them only with this setting."""
PROBABILITY_KEYS = {"probability", "interval", "range", "threshold"}


def post(client: TestClient, keys: dict[str, str], body: Any, role: str = "screener", **kwargs: Any) -> Any:
    return client.post(URL, json=body, headers=auth(keys, role), **kwargs)


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "field", "value", "allowed"} <= set(body["error"])
    return body["error"]


def screen_full(client: TestClient, keys: dict[str, str], **changes: Any) -> dict[str, Any]:
    """A screening answered in the full form (?explain=full): every contribution, with its base value."""
    response = client.post(URL + "?explain=full", json=example(**changes), headers=auth(keys, "screener"))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------------------- results
def test_screening_returns_the_described_case_and_logs_it(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    body = screen(client, keys)
    model = registered().model
    engine = ScreeningEngine(model)
    case = example()
    codes = engine.encode({**case["answers"], **case["context"], **case["monitoring"]})
    assessment = engine.assess(codes, Interview(danger=case["danger"], screener_assessment=case["screener_assessment"]))
    # The screener's view: no probability of either type of exploitation, by default; compact.
    expected = engine.describe(assessment, lang="en", probabilities=False, explain="compact")
    assert {k: body[k] for k in expected} == expected
    assert set(body) == {*expected, "screening_id", "created_at", "model"}
    assert body["model"] == {"name": "tarozu-screening", "version": "1"}
    assert set(body["outcomes"]) == {"labour", "sexual"}
    labour = body["outcomes"]["labour"]
    assert labour["band"] in ("low", "medium", "high")
    assert not PROBABILITY_KEYS & set(labour)
    assert "explanation" not in labour
    reasons = labour["reasons"]
    assert [abs(r["contribution"]) for r in reasons] == sorted((abs(r["contribution"]) for r in reasons), reverse=True)
    # only the evidence given: the three answers and the recorded context, migrant_status in the base
    assert {r["field"] for r in reasons} == {
        "documents_withheld",
        "debt_bondage",
        "excessive_hours",
        "destination",
        "sector",
        "months_abroad",
        "recruiter_relation",
        "job_found_via",
    }
    assert set(body["recommendation"]) == {
        "status",
        "status_label",
        "refer",
        "tier",
        "tier_label",
        "leaning_tier",
        "leaning_tier_label",
        "urgent",
        "settled",
        "flip_chance",
        "text",
    }
    assert body["recommendation"]["urgent"] is False
    assert (body["recommendation"]["tier"], body["recommendation"]["leaning_tier"]) == (
        assessment.tier,
        assessment.leaning_tier,
    )
    assert body["interview"]["answered"] == 3
    assert all(set(n) == {"indicator", "question", "effect"} for n in body["next_questions"])
    assert "does not replace" in body["caveat"]
    assert count_rows(db_url, "screenings") == 1


@pytest.mark.parametrize("settings_overrides", SHOW)
def test_with_the_setting_the_screener_sees_the_probabilities(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    body = screen(client, keys)
    engine = ScreeningEngine(registered().model)
    case = example()
    codes = engine.encode({**case["answers"], **case["context"], **case["monitoring"]})
    assessment = engine.assess(codes, Interview(danger=case["danger"], screener_assessment=case["screener_assessment"]))
    expected = engine.describe(assessment, lang="en", explain="compact")
    assert {k: body[k] for k in expected} == expected
    labour = body["outcomes"]["labour"]
    assert set(labour) >= PROBABILITY_KEYS
    assert labour["interval"][0] <= labour["probability"] <= labour["interval"][1]
    assert labour["range"][0] <= labour["range"][1]
    assert all(set(n) == {"indicator", "question", "if_yes", "if_no", "effect"} for n in body["next_questions"])


def test_the_audit_log_keeps_the_probabilities_and_the_tier_the_screener_was_not_shown(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    import orjson

    body = screen(client, keys, danger="yes")
    assert "probability" not in body["outcomes"]["labour"]
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (result,) = conn.execute("SELECT result FROM screenings").fetchone()
    logged = orjson.loads(result)
    assert 0.0 < logged["outcomes"]["labour"]["probability"] < 1.0
    assert logged["outcomes"]["labour"]["interval"][0] <= logged["outcomes"]["labour"]["probability"]
    # danger yes: a specialist assessment, at once
    assert (logged["tier"], logged["leaning_tier"], logged["status"]) == ("nrm", "nrm", "refer")
    assert body["recommendation"]["tier"] == "nrm"


@pytest.mark.parametrize("settings_overrides", SHOW)
def test_texts_follow_the_language(client: TestClient, keys: dict[str, str]) -> None:
    en = screen(client, keys, lang="en")
    ru = screen(client, keys, lang="ru")
    assert en["outcomes"]["labour"]["probability"] == ru["outcomes"]["labour"]["probability"]
    assert en["outcomes"]["labour"]["label"] != ru["outcomes"]["labour"]["label"]
    assert en["caveat"] != ru["caveat"]


@pytest.mark.parametrize("settings_overrides", SHOW)
def test_a_strong_indicator_raises_the_labour_risk(client: TestClient, keys: dict[str, str]) -> None:
    def p(answer: str) -> float:
        body = screen(client, keys, answers={"documents_withheld": answer})
        return float(body["outcomes"]["labour"]["probability"])

    assert p("yes") > p("not_asked") > p("no")
    assert p("declined") == p("not_asked")


def test_audit_attributes_do_not_change_the_scores(client: TestClient, keys: dict[str, str]) -> None:
    a = screen(client, keys, monitoring={"gender": "man", "age_band": "24-26"})
    b = screen(client, keys, monitoring={"gender": "woman", "citizenship": "UZB", "region": "gbao"})
    c = screen(client, keys, monitoring=None)
    assert a["outcomes"] == b["outcomes"] == c["outcomes"]


def test_interview_setting_is_accepted_and_logged_in_the_audit(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    import orjson

    setting = {
        "interview_language": "tg",
        "interpreter_present": "no",
        "others_present": "family_member",
        "site_type": "returnee_desk",
    }
    with_setting = screen(client, keys, monitoring={"gender": "man", **setting})
    without = screen(client, keys, monitoring={"gender": "man"})
    assert with_setting["outcomes"] == without["outcomes"]
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT audit FROM screenings WHERE screening_id = ?", (with_setting["screening_id"],))
        audit = orjson.loads(row.fetchone()["audit"])
    assert {k: audit[k] for k in setting} == setting


@pytest.mark.parametrize("settings_overrides", SHOW)
def test_questions_left_out_are_not_asked_and_no_evidence(client: TestClient, keys: dict[str, str]) -> None:
    body = screen_full(client, keys, answers={}, context={"migrant_status": "returnee"}, not_asked_reasons={})
    for outcome in body["outcomes"].values():
        e = outcome["explanation"]
        assert e["contributions"] == []
        assert e["base_value"] == e["log_odds"]  # the empty form's own score, exactly
    assert body["interview"]["not_asked"] == body["interview"]["total"] == len(RETURNEE_QUESTIONS)
    assert body["recommendation"]["status"] == "ask_more"
    assert len(body["next_questions"]) == 5
    assert all(set(u) == {"indicator", "question", "if_yes", "if_no", "effect"} for u in body["next_questions"])


def test_case_ref_is_stored_only_as_its_hmac(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    import hashlib
    import hmac

    secret_ref = "NRM-CASEREF-77Q"
    screen(client, keys, case_ref=secret_ref)
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute("SELECT case_ref_hmac FROM screenings").fetchone()
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    assert stored == hmac.new(TEST_SECRET.encode(), secret_ref.encode(), hashlib.sha256).hexdigest()
    for name in ("audit.db", "audit.db-wal"):
        file = Path(db_url.removeprefix("sqlite:///")).with_name(name)
        if file.exists():
            assert secret_ref.encode() not in file.read_bytes()


@pytest.mark.parametrize("settings_overrides", SHOW)
def test_logged_row_holds_answers_outputs_and_who(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    import orjson

    body = screen(client, keys)
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM screenings").fetchone()
    assert row["screening_id"] == body["screening_id"]
    assert row["role"] == "screener"
    assert row["key_id"]
    assert row["key_id"] in keys["screener"]
    assert row["key_id"] != keys["screener"]
    assert (row["model_name"], row["model_version"]) == ("tarozu-screening", "1")
    assert row["screener_assessment"] == "medium"
    # Only the values given: the rest are at their reference level (not asked, not recorded).
    answers = orjson.loads(row["answers"])
    assert answers == {k: v for k, v in example()["answers"].items() if v != "not_asked"}
    context = orjson.loads(row["context"])
    assert (context["months_abroad"], context["migrant_status"]) == (14, "returnee")
    assert "unknown" not in context.values()
    assert orjson.loads(row["audit"])["gender"] == "man"
    result = orjson.loads(row["result"])
    assert result["outcomes"]["labour"]["probability"] == body["outcomes"]["labour"]["probability"]
    assert result["outcomes"]["labour"]["range"] == body["outcomes"]["labour"]["range"]
    # No explanation: it is recomputed from the inputs when read, and the response's hash proves it.
    assert all("contributions" not in o for o in result["outcomes"].values())
    assert row["response_explain"] == "compact"
    assert len(row["answers"]) + len(row["context"]) + len(row["audit"]) + len(row["result"]) < 2000
    assert result["status"] == body["recommendation"]["status"]
    assert result["refer"] is body["recommendation"]["refer"] is bool(row["refer"])
    assert (result["tier"], result["leaning_tier"]) == (
        body["recommendation"]["tier"],
        body["recommendation"]["leaning_tier"],
    )
    assert result["interview"] == {k: v for k, v in body["interview"].items() if k != "text"}
    assert result["next_questions"] == [n["indicator"] for n in body["next_questions"]]
    assert (result["consent"], result["danger"]) == (True, "no")
    family_only = {f.id: "not_applicable" for f in Q.indicators if f.id not in RETURNEE_QUESTIONS}
    assert result["not_asked_reasons"] == {"sexual_violence": "not_safe_here", **family_only}


@pytest.mark.parametrize("settings_overrides", SHOW)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    answers=st.dictionaries(
        st.sampled_from(RETURNEE_QUESTIONS), st.sampled_from(("yes", "no", "dont_know", "declined", "not_asked"))
    ),
    months=st.one_of(st.none(), st.integers(0, 600)),
    assessment=st.sampled_from(("low", "medium", "high")),
)
def test_api_explanations_add_up(
    client: TestClient, keys: dict[str, str], answers: dict[str, str], months: int | None, assessment: str
) -> None:
    body = screen_full(
        client,
        keys,
        answers=answers,
        not_asked_reasons={},
        context={"migrant_status": "returnee", "months_abroad": months},
        screener_assessment=assessment,
    )
    for outcome in body["outcomes"].values():
        e = outcome["explanation"]
        total = e["base_value"] + sum(c["contribution"] for c in e["contributions"])
        np.testing.assert_allclose(total, e["log_odds"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(total, logit(outcome["probability"]), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------- keys and roles
def test_both_key_headers_work(client: TestClient, keys: dict[str, str]) -> None:
    for headers in (auth(keys, "screener"), auth(keys, "screener", bearer=True)):
        assert client.post(URL, json=example(), headers=headers).status_code == 201


def test_missing_key_is_401(client: TestClient, db_url: str) -> None:
    error = error_of(client.post(URL, json=example()), 401)
    assert error["code"] == "missing_api_key"
    assert count_rows(db_url, "screenings") == 0


@pytest.mark.parametrize(
    "header",
    [
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Bearer tarozu_000000000000_wrongsecret"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_wrong_key_is_401(client: TestClient, header: dict[str, str]) -> None:
    response = client.post(URL, json=example(), headers=header)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_right_key_id_with_wrong_secret_is_401(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["screener"]
    forged = key[: key.rindex("_") + 1] + "A" * 43
    assert client.post(URL, json=example(), headers={"X-API-Key": forged}).status_code == 401


@pytest.mark.parametrize("role", ["specialist", "reviewer", "data-scientist", "admin"])
def test_other_roles_may_not_screen(client: TestClient, keys: dict[str, str], role: str, db_url: str) -> None:
    error = error_of(post(client, keys, example(), role=role), 403)
    assert error["allowed"] == ["screener"]
    assert count_rows(db_url, "screenings") == 0


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"answers": {"no_such_indicator": "yes"}}, "answers.no_such_indicator", "unknown_field"),
        ({"answers": {"documents_withheld": "maybe"}}, "answers.documents_withheld", "invalid_value"),
        ({"answers": {"documents_withheld": True}}, "answers.documents_withheld", "invalid_value"),
        ({"answers": {"documents_withheld": "unknown"}}, "answers.documents_withheld", "invalid_value"),
        ({"danger": "maybe"}, "danger", "invalid_value"),
        ({"danger": "dont_know"}, "danger", "invalid_value"),
        ({"not_asked_reasons": {"isolation": "tired"}}, "not_asked_reasons.isolation", "invalid_value"),
        (
            {"not_asked_reasons": {"no_such_indicator": "deferred"}},
            "not_asked_reasons.no_such_indicator",
            "unknown_field",
        ),
        ({"consent": "perhaps"}, "consent", "invalid_value"),
        ({"context": {"migrant_status": "tourist"}}, "context.migrant_status", "invalid_value"),
        ({"context": {"destination": "FRA"}}, "context.destination", "invalid_value"),
        ({"context": {"months_abroad": "12"}}, "context.months_abroad", "invalid_value"),
        ({"context": {"months_abroad": 1.5}}, "context.months_abroad", "invalid_value"),
        ({"context": {"months_abroad": 601}}, "context.months_abroad", "invalid_value"),
        ({"context": {"months_abroad": True}}, "context.months_abroad", "invalid_value"),
        ({"monitoring": {"gender": "other"}}, "monitoring.gender", "invalid_value"),
        ({"lang": "fr"}, "lang", "invalid_value"),
        ({"screener_assessment": "very high"}, "screener_assessment", "invalid_value"),
        ({"surprise": 1}, "surprise", "unknown_field"),
        ({"answers": ["yes"]}, "answers", "invalid_value"),
    ],
)
def test_bad_fields_are_422_naming_field_value_and_allowed(
    client: TestClient, keys: dict[str, str], db_url: str, changes: dict[str, Any], field: str, code: str
) -> None:
    error = error_of(post(client, keys, example(**changes)), 422)
    assert (error["field"], error["code"]) == (field, code)
    assert error["allowed"]
    assert count_rows(db_url, "screenings") == 0


def test_whole_months_may_be_written_as_floats(client: TestClient, keys: dict[str, str]) -> None:
    context = {**example()["context"], "months_abroad": 14.0}
    assert screen(client, keys, context=context)["outcomes"] == screen(client, keys)["outcomes"]


def test_allowed_lists_the_answers_and_the_value_sent(client: TestClient, keys: dict[str, str]) -> None:
    error = error_of(post(client, keys, example(answers={"documents_withheld": "maybe"})), 422)
    assert error["value"] == "maybe"
    assert error["allowed"] == ["yes", "no", "dont_know", "declined", "not_asked", None]
    error = error_of(post(client, keys, example(context={"months_abroad": 601})), 422)
    assert error["value"] == 601
    assert "0 to 600" in str(error["allowed"])
    error = error_of(post(client, keys, example(answers={"nope": "yes"})), 422)
    assert "documents_withheld" in error["allowed"]


def test_missing_assessment_is_422(client: TestClient, keys: dict[str, str]) -> None:
    body = example()
    del body["screener_assessment"]
    error = error_of(post(client, keys, body), 422)
    assert (error["field"], error["code"]) == ("screener_assessment", "missing_field")
    assert error["allowed"] == ["low", "medium", "high"]


def test_case_ref_is_never_echoed(client: TestClient, keys: dict[str, str]) -> None:
    long_ref = "SECRET-REF-" + "9" * 200
    response = post(client, keys, example(case_ref=long_ref))
    error = error_of(response, 422)
    assert error["field"] == "case_ref"
    assert "SECRET-REF" not in response.text


@pytest.mark.parametrize("body", [b'{"answers": ', b"not json", b"", b"\xff\xfe"])
def test_malformed_json_is_400(client: TestClient, keys: dict[str, str], body: bytes, db_url: str) -> None:
    response = client.post(URL, content=body, headers={**auth(keys, "screener"), "Content-Type": "application/json"})
    assert error_of(response, 400)["code"] == "malformed_json"
    assert count_rows(db_url, "screenings") == 0


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_json_that_is_not_an_object_is_4xx(client: TestClient, keys: dict[str, str], body: bytes) -> None:
    response = client.post(URL, content=body, headers={**auth(keys, "screener"), "Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert "error" in response.json()


def test_wrong_content_type_is_415(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(URL, content=b"a,b\n", headers={**auth(keys, "screener"), "Content-Type": "text/csv"})
    assert error_of(response, 415)["allowed"] == ["application/json"]


@pytest.mark.parametrize("settings_overrides", [{"max_body_bytes": 4096}])
def test_oversized_body_is_413_before_parsing(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    big = example(case_ref="x" * 5000)
    error = error_of(post(client, keys, big), 413)
    assert error["code"] == "payload_too_large"

    def chunks() -> Any:  # no Content-Length: the bytes are counted as they arrive
        for _ in range(10):
            yield b" " * 1000

    response = client.post(
        URL, content=chunks(), headers={**auth(keys, "screener"), "Content-Type": "application/json"}
    )
    assert error_of(response, 413)["allowed"] == "at most 4096 bytes"
    assert count_rows(db_url, "screenings") == 0


def test_no_key_secret_or_case_ref_in_logs(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    screen(client, keys, case_ref="CASE-REF-LOGCHECK")
    post(client, keys, example(case_ref="CASE-REF-LOGCHECK", answers={"x": 1}))
    client.post(URL, json=example(), headers={"X-API-Key": keys["screener"] + "tampered"})
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (*keys.values(), TEST_SECRET, "CASE-REF-LOGCHECK"):
        assert secret not in text


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer tarozu_000000000000_other"},
        {"Authorization": "Token abc"},
    ],
)
def test_every_key_header_sent_must_hold(client: TestClient, keys: dict[str, str], headers: dict[str, str]) -> None:
    """A valid X-API-Key does not excuse a bad Authorization header sent with it."""
    response = client.post(URL, json=example(), headers={**auth(keys, "screener"), **headers})
    assert error_of(response, 401)["code"] == "invalid_api_key"
    same = {**auth(keys, "screener"), "Authorization": f"Bearer {keys['screener']}"}
    assert client.post(URL, json=example(), headers=same).status_code == 201


@pytest.mark.parametrize(
    "changes",
    [{"answers": {"documents_withheld": 2**70}}, {"context": {"months_abroad": 2**70}}, {"extra": -(2**80)}],
)
def test_integers_beyond_64_bits_are_422(client: TestClient, keys: dict[str, str], changes: dict[str, Any]) -> None:
    response = client.post(
        URL,
        content=_with_big_int(example(), changes),
        headers={**auth(keys, "screener"), "Content-Type": "application/json"},
    )
    error = error_of(response, 422)
    assert error["value"] in (str(2**70), str(-(2**80)))


def _with_big_int(case: dict[str, Any], changes: dict[str, Any]) -> bytes:
    """orjson cannot write such integers: build the JSON by hand."""
    import json

    return json.dumps({**case, **changes}).encode()
