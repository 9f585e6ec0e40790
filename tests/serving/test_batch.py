"""POST /v1/screenings:batch, as JSON and as CSV: bulk scoring for data scientists, all or nothing,
logged as one bulk call (not as screenings), and never carrying a screener's assessment."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from models.interview import RULE
from serving.keys import key_id_of
from tests.support.api import auth, count_rows, example

URL = "/v1/screenings:batch"
STRIP = ("screening_id", "row", "created_at")


def without_ids(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in STRIP}


def bulk(**changes: Any) -> dict[str, Any]:
    """A case of a batch: the documented example without the screener's assessment and case reference."""
    case = example(**changes)
    return {k: v for k, v in case.items() if k not in ("screener_assessment", "case_ref") or k in changes}


def ds(keys: dict[str, str], **headers: str) -> dict[str, str]:
    return {**auth(keys, "data-scientist"), **headers}


def agrees(full: Any, shown: Any) -> bool:
    """Whether ``full`` (a bulk result) holds everything of ``shown`` (the same case screened): the
    screener's result card may leave parts out (the probabilities), never show anything else."""
    if isinstance(shown, dict):
        return isinstance(full, dict) and all(k in full and agrees(full[k], v) for k, v in shown.items())
    if isinstance(shown, list):
        return isinstance(full, list) and len(full) == len(shown) and all(map(agrees, full, shown))
    return bool(full == shown)


def single(client: TestClient, keys: dict[str, str], case: dict[str, Any]) -> dict[str, Any]:
    screening = {"screener_assessment": "medium", **case}
    response = client.post("/v1/screenings", json=screening, headers=auth(keys, "screener"))
    assert response.status_code == 201
    return without_ids(response.json())


def bulk_rows(db_url: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(
            "SELECT route, rows, role, key_id, model_name, model_version, input_sha256, outlook_rule "
            "FROM bulk_scorings ORDER BY seq"
        ).fetchall()


def test_json_batch_gives_the_single_case_results_and_logs_one_bulk_call(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    cases = [
        bulk(),
        bulk(answers={"sexual_violence": "yes"}, not_asked_reasons={}, lang="tg", monitoring=None),
        bulk(answers={}, context={"migrant_status": "prospective"}),
        bulk(answers={"debt_bondage": "declined"}, danger="yes", not_asked_reasons={}),
    ]
    body = orjson.dumps({"cases": cases})
    response = client.post(URL, content=body, headers=ds(keys, **{"Content-Type": "application/json"}))
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert [r["row"] for r in results] == [1, 2, 3, 4]
    assert not any("screening_id" in r for r in results)
    assert results[3]["recommendation"]["urgent"] is True
    # Bulk scoring is logged as one call, with its row count, caller and model; no screening is logged.
    assert count_rows(db_url, "screenings") == 0
    assert bulk_rows(db_url) == [
        (
            "batch",
            4,
            "data-scientist",
            key_id_of(keys["data-scientist"]),
            "tarozu-screening",
            "1",
            hashlib.sha256(body).hexdigest(),
            RULE,
        )
    ]
    for case, result in zip(cases, results, strict=True):
        assert agrees(without_ids(result), single(client, keys, case))


CSV_HEADER = "documents_withheld,debt_bondage,migrant_status,destination,months_abroad,gender,lang,consent"


def test_csv_batch_gives_the_json_results(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    csv = CSV_HEADER + "\nyes,no,returnee,RUS,14,man,en,true\n,,prospective,KAZ,0,,ru,true\n"
    response = client.post(URL, content=csv, headers=ds(keys, **{"Content-Type": "text/csv"}))
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    first = bulk(
        answers={"documents_withheld": "yes", "debt_bondage": "no"},
        context={"migrant_status": "returnee", "destination": "RUS", "months_abroad": 14},
        monitoring={"gender": "man"},
        not_asked_reasons={},
        danger="not_asked",
    )
    second = bulk(
        answers={},
        context={"migrant_status": "prospective", "destination": "KAZ", "months_abroad": 0},
        monitoring=None,
        lang="ru",
        not_asked_reasons={},
        danger="not_asked",
    )
    assert agrees([without_ids(r) for r in results], [single(client, keys, first), single(client, keys, second)])
    assert [(r[0], r[1]) for r in bulk_rows(db_url)] == [("batch", 2)]


@pytest.mark.parametrize(
    ("cases", "row", "field"),
    [
        ([bulk(), bulk(answers={"documents_withheld": "maybe"})], 2, "answers.documents_withheld"),
        ([bulk(), bulk(), bulk(nope=1)], 3, "nope"),
        ([{"answers": {}, "context": {"migrant_status": "returnee"}}], 1, None),  # no consent
    ],
)
def test_json_batch_errors_name_the_row_and_write_nothing(
    client: TestClient, keys: dict[str, str], db_url: str, cases: list[Any], row: int, field: str | None
) -> None:
    response = client.post(URL, json={"cases": cases}, headers=ds(keys))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["row"], error["field"]) == (row, field)
    assert count_rows(db_url, "screenings") == 0
    assert count_rows(db_url, "bulk_scorings") == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"screener_assessment": "medium"},
        {"screener_assessment": "high", "case_ref": "REF-1"},
        {"case_ref": "REF-1"},
        {"screener_assessment": None},
    ],
    ids=["assessment", "both", "case-ref", "null-assessment"],
)
def test_a_batch_case_may_not_carry_a_screener_assessment(
    client: TestClient, keys: dict[str, str], db_url: str, extra: dict[str, Any]
) -> None:
    # One assessment pasted onto many rows records no human look at any of them: refused, naming the row.
    cases = [bulk(), bulk(), {**bulk(), **extra}, bulk()]
    response = client.post(URL, json={"cases": cases}, headers=ds(keys))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["row"]) == ("bulk_not_screening", 3)
    assert "POST /v1/screenings" in error["message"]
    assert all(name in error["message"] for name in extra)
    assert count_rows(db_url, "bulk_scorings") == 0


@pytest.mark.parametrize("column", ["screener_assessment", "case_ref"])
def test_a_csv_batch_may_not_carry_a_screener_assessment_column(
    client: TestClient, keys: dict[str, str], db_url: str, column: str
) -> None:
    csv = f"documents_withheld,migrant_status,consent,{column}\nyes,returnee,true,medium\nno,returnee,true,medium\n"
    response = client.post(URL, content=csv, headers=ds(keys, **{"Content-Type": "text/csv"}))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("bulk_not_screening", column)
    assert count_rows(db_url, "bulk_scorings") == 0


@pytest.mark.parametrize(
    ("csv", "status", "row", "field"),
    [
        (
            CSV_HEADER + "\nyes,no,returnee,RUS,14,man,en,true\nyes,no,returnee,RUS,abc,man,en,true\n",
            422,
            2,
            "context.months_abroad",
        ),
        (
            CSV_HEADER + "\nyes,no,returnee,RUS,14,man,en,true\nmaybe,no,returnee,RUS,1,man,en,true\n",
            422,
            2,
            "answers.documents_withheld",
        ),
        (CSV_HEADER + "\nyes,no\n", 422, 1, None),
        ("surprise,lang\nx,en\n", 422, None, "surprise"),
    ],
)
def test_csv_batch_errors_name_the_row(
    client: TestClient, keys: dict[str, str], db_url: str, csv: str, status: int, row: int | None, field: str | None
) -> None:
    response = client.post(URL, content=csv, headers=ds(keys, **{"Content-Type": "text/csv"}))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.get("row") == row
    assert error["field"] == field
    assert count_rows(db_url, "bulk_scorings") == 0


@pytest.mark.parametrize("settings_overrides", [{"max_batch_cases": 3}])
def test_oversized_batch_is_413(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    response = client.post(URL, json={"cases": [bulk()] * 4}, headers=ds(keys))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    csv = CSV_HEADER + "\n" + "yes,no,returnee,RUS,14,man,en,true\n" * 4
    response = client.post(URL, content=csv, headers=ds(keys, **{"Content-Type": "text/csv"}))
    assert response.status_code == 413
    assert count_rows(db_url, "bulk_scorings") == 0
    assert client.post(URL, json={"cases": [bulk()] * 3}, headers=ds(keys)).status_code == 201
    assert [(r[0], r[1]) for r in bulk_rows(db_url)] == [("batch", 3)]


@pytest.mark.parametrize("settings_overrides", [{"max_batch_body_bytes": 20_000}])
def test_oversized_batch_body_is_413(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(URL, json={"cases": [bulk()] * 50}, headers=ds(keys))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("body", [{"cases": []}, {"cases": "x"}, {"items": []}, []])
def test_batch_shape_errors(client: TestClient, keys: dict[str, str], body: Any) -> None:
    response = client.post(URL, json=body, headers=ds(keys))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "cases"


@pytest.mark.parametrize("role", ["screener", "specialist", "reviewer", "admin"])
def test_batch_is_for_data_scientists_only(client: TestClient, keys: dict[str, str], db_url: str, role: str) -> None:
    for body in ({"cases": [bulk()]}, {"cases": [example()]}):
        response = client.post(URL, json=body, headers=auth(keys, role))
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert (error["code"], error["allowed"]) == ("forbidden", ["data-scientist"])
        assert "bulk scoring is for data scientists" in error["message"]
        assert "POST /v1/screenings" in error["message"]
    assert client.post(URL, json={"cases": [bulk()]}).status_code == 401
    assert count_rows(db_url, "screenings") == 0
    assert count_rows(db_url, "bulk_scorings") == 0


def without_consent(case: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in case.items() if k != "consent"}


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (without_consent(bulk()), "consent_required"),
        (bulk(consent=False), "consent_required"),
        (bulk(monitoring={"age_band": "9-17"}), "child_protection"),
        (bulk(context={"migrant_status": "prospective"}, answers={"isolation": "no"}), "not_applicable"),
        (bulk(context={}), "migrant_status_required"),
    ],
    ids=["consent-missing", "consent-false", "child", "not-applicable", "no-status"],
)
def test_one_case_breaking_a_rule_refuses_the_whole_batch(
    client: TestClient, keys: dict[str, str], db_url: str, bad: dict[str, Any], code: str
) -> None:
    cases = [bulk(), bulk(), bad, bulk()]
    response = client.post(URL, json={"cases": cases}, headers=ds(keys))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["row"]) == (code, 3)
    assert count_rows(db_url, "bulk_scorings") == 0


@pytest.mark.parametrize(
    ("consent", "code"), [("false", "consent_required"), ("", "consent_required"), ("maybe", "invalid_value")]
)
def test_csv_batch_without_consent_for_one_case_writes_nothing(
    client: TestClient, keys: dict[str, str], db_url: str, consent: str, code: str
) -> None:
    csv = (
        CSV_HEADER
        + "\nyes,no,returnee,RUS,14,man,en,true"
        + f"\nyes,no,returnee,RUS,14,man,en,{consent}"
        + "\nyes,no,returnee,RUS,14,man,en,true\n"
    )
    response = client.post(URL, content=csv, headers=ds(keys, **{"Content-Type": "text/csv"}))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["row"]) == (code, 2)
    assert count_rows(db_url, "bulk_scorings") == 0


def test_csv_batch_without_a_consent_column_writes_nothing(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    csv = "documents_withheld,migrant_status\nyes,returnee\n"
    response = client.post(URL, content=csv, headers=ds(keys, **{"Content-Type": "text/csv"}))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "consent_required"
    assert count_rows(db_url, "bulk_scorings") == 0


def test_csv_danger_column_refers_urgently(client: TestClient, keys: dict[str, str]) -> None:
    csv = "migrant_status,consent,danger\nprospective,true,yes\nprospective,true,no\nprospective,true,\n"
    response = client.post(URL, content=csv, headers=ds(keys, **{"Content-Type": "text/csv"}))
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    recommendations = [r["recommendation"] for r in results]
    assert [(r["status"], r["urgent"]) for r in recommendations[:1]] == [("refer", True)]
    assert [r["urgent"] for r in recommendations[1:]] == [False, False]
    assert all(r["status"] != "refer" for r in recommendations[1:])
    for danger, result in zip(("yes", "no", "not_asked"), results, strict=True):
        case = bulk(
            answers={},
            context={"migrant_status": "prospective"},
            monitoring=None,
            not_asked_reasons={},
            danger=danger,
        )
        assert agrees(without_ids(result), single(client, keys, case))
