"""POST /v1/screenings:batch, as JSON and as CSV: same results per case, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import auth, count_rows, example
from fastapi.testclient import TestClient

URL = "/v1/screenings:batch"
STRIP = ("screening_id", "created_at")


def without_ids(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in STRIP}


def single(client: TestClient, keys: dict[str, str], case: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/screenings", json=case, headers=auth(keys, "screener"))
    assert response.status_code == 201
    return without_ids(response.json())


def test_json_batch_gives_the_single_case_results(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    cases = [
        example(),
        example(answers={"sexual_violence": "yes"}, not_asked_reasons={}, lang="tg", audit=None, case_ref=None),
        example(answers={}, context={"migrant_status": "prospective"}, screener_assessment="low"),
        example(answers={"debt_bondage": "declined"}, danger="yes", not_asked_reasons={}),
    ]
    response = client.post(URL, json={"cases": cases}, headers=auth(keys, "screener"))
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert len(results) == 4
    assert len({r["screening_id"] for r in results}) == 4
    for case, result in zip(cases, results, strict=True):
        assert without_ids(result) == single(client, keys, case)
    assert results[3]["recommendation"]["urgent"] is True
    assert count_rows(db_url, "screenings") == 4 + 4


CSV_HEADER = (
    "documents_withheld,debt_bondage,migrant_status,destination,months_abroad,gender,lang,screener_assessment,case_ref,"
    "consent"
)


def test_csv_batch_gives_the_json_results(client: TestClient, keys: dict[str, str]) -> None:
    csv = CSV_HEADER + "\nyes,no,returnee,RUS,14,man,en,medium,REF-1,true\n,,prospective,KAZ,0,,ru,low,,true\n"
    response = client.post(URL, content=csv, headers={**auth(keys, "screener"), "Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    first = example(
        answers={"documents_withheld": "yes", "debt_bondage": "no"},
        context={"migrant_status": "returnee", "destination": "RUS", "months_abroad": 14},
        audit={"gender": "man"},
        case_ref="REF-1",
        not_asked_reasons={},
        danger="not_asked",
    )
    second = example(
        answers={},
        context={"migrant_status": "prospective", "destination": "KAZ", "months_abroad": 0},
        audit=None,
        lang="ru",
        screener_assessment="low",
        case_ref=None,
        not_asked_reasons={},
        danger="not_asked",
    )
    assert [without_ids(r) for r in results] == [single(client, keys, first), single(client, keys, second)]


@pytest.mark.parametrize(
    ("cases", "row", "field"),
    [
        ([example(), example(answers={"documents_withheld": "maybe"})], 2, "answers.documents_withheld"),
        ([example(), example(), example(nope=1)], 3, "nope"),
        ([{"answers": {}, "consent": True, "context": {"migrant_status": "returnee"}}], 1, "screener_assessment"),
    ],
)
def test_json_batch_errors_name_the_row_and_write_nothing(
    client: TestClient, keys: dict[str, str], db_url: str, cases: list[Any], row: int, field: str
) -> None:
    response = client.post(URL, json={"cases": cases}, headers=auth(keys, "screener"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["row"], error["field"]) == (row, field)
    assert count_rows(db_url, "screenings") == 0


@pytest.mark.parametrize(
    ("csv", "status", "row", "field"),
    [
        (
            CSV_HEADER + "\nyes,no,returnee,RUS,14,man,en,medium,,true\nyes,no,returnee,RUS,abc,man,en,medium,,true\n",
            422,
            2,
            "context.months_abroad",
        ),
        (
            CSV_HEADER + "\nyes,no,returnee,RUS,14,man,en,medium,,true\nmaybe,no,returnee,RUS,1,man,en,medium,,true\n",
            422,
            2,
            "answers.documents_withheld",
        ),
        (CSV_HEADER + "\nyes,no,returnee,RUS,14,man,en,,,true\n", 422, 1, "screener_assessment"),
        (CSV_HEADER + "\nyes,no\n", 422, 1, None),
        ("surprise,lang\nx,en\n", 422, None, "surprise"),
    ],
)
def test_csv_batch_errors_name_the_row(
    client: TestClient, keys: dict[str, str], db_url: str, csv: str, status: int, row: int | None, field: str | None
) -> None:
    response = client.post(URL, content=csv, headers={**auth(keys, "screener"), "Content-Type": "text/csv"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.get("row") == row
    assert error["field"] == field
    assert count_rows(db_url, "screenings") == 0


@pytest.mark.parametrize("settings_overrides", [{"max_batch_cases": 3}])
def test_oversized_batch_is_413(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    response = client.post(URL, json={"cases": [example()] * 4}, headers=auth(keys, "screener"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    csv = CSV_HEADER + "\n" + "yes,no,returnee,RUS,14,man,en,medium,,true\n" * 4
    response = client.post(URL, content=csv, headers={**auth(keys, "screener"), "Content-Type": "text/csv"})
    assert response.status_code == 413
    assert client.post(URL, json={"cases": [example()] * 3}, headers=auth(keys, "screener")).status_code == 201


@pytest.mark.parametrize("settings_overrides", [{"max_batch_body_bytes": 20_000}])
def test_oversized_batch_body_is_413(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(URL, json={"cases": [example()] * 50}, headers=auth(keys, "screener"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("body", [{"cases": []}, {"cases": "x"}, {"items": []}, []])
def test_batch_shape_errors(client: TestClient, keys: dict[str, str], body: Any) -> None:
    response = client.post(URL, json=body, headers=auth(keys, "screener"))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "cases"


def test_batch_needs_the_screener_role(client: TestClient, keys: dict[str, str]) -> None:
    assert client.post(URL, json={"cases": [example()]}).status_code == 401
    assert client.post(URL, json={"cases": [example()]}, headers=auth(keys, "reviewer")).status_code == 403


def without_consent(case: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in case.items() if k != "consent"}


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (without_consent(example()), "consent_required"),
        (example(consent=False), "consent_required"),
        (example(audit={"age_band": "9-17"}), "child_protection"),
        (example(context={"migrant_status": "prospective"}, answers={"isolation": "no"}), "not_applicable"),
        (example(context={}), "migrant_status_required"),
    ],
    ids=["consent-missing", "consent-false", "child", "not-applicable", "no-status"],
)
def test_one_case_breaking_a_rule_refuses_the_whole_batch(
    client: TestClient, keys: dict[str, str], db_url: str, bad: dict[str, Any], code: str
) -> None:
    cases = [example(), example(), bad, example()]
    response = client.post(URL, json={"cases": cases}, headers=auth(keys, "screener"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["row"]) == (code, 3)
    assert count_rows(db_url, "screenings") == 0


@pytest.mark.parametrize(
    ("consent", "code"), [("false", "consent_required"), ("", "consent_required"), ("maybe", "invalid_value")]
)
def test_csv_batch_without_consent_for_one_case_writes_nothing(
    client: TestClient, keys: dict[str, str], db_url: str, consent: str, code: str
) -> None:
    csv = (
        CSV_HEADER
        + "\nyes,no,returnee,RUS,14,man,en,medium,,true"
        + f"\nyes,no,returnee,RUS,14,man,en,medium,,{consent}"
        + "\nyes,no,returnee,RUS,14,man,en,medium,,true\n"
    )
    response = client.post(URL, content=csv, headers={**auth(keys, "screener"), "Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["row"]) == (code, 2)
    assert count_rows(db_url, "screenings") == 0


def test_csv_batch_without_a_consent_column_writes_nothing(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    csv = "documents_withheld,migrant_status,screener_assessment\nyes,returnee,medium\n"
    response = client.post(URL, content=csv, headers={**auth(keys, "screener"), "Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "consent_required"
    assert count_rows(db_url, "screenings") == 0


def test_csv_danger_column_refers_urgently(client: TestClient, keys: dict[str, str]) -> None:
    csv = (
        "migrant_status,screener_assessment,consent,danger\n"
        "prospective,low,true,yes\n"
        "prospective,low,true,no\n"
        "prospective,low,true,\n"
    )
    response = client.post(URL, content=csv, headers={**auth(keys, "screener"), "Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    recommendations = [r["recommendation"] for r in results]
    assert [(r["status"], r["urgent"]) for r in recommendations[:1]] == [("refer", True)]
    assert [r["urgent"] for r in recommendations[1:]] == [False, False]
    assert all(r["status"] != "refer" for r in recommendations[1:])
    for danger, result in zip(("yes", "no", "not_asked"), results, strict=True):
        case = example(
            answers={},
            context={"migrant_status": "prospective"},
            audit=None,
            not_asked_reasons={},
            danger=danger,
            screener_assessment="low",
            case_ref=None,
        )
        assert without_ids(result) == single(client, keys, case)
