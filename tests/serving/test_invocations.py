"""The MLflow scoring-server protocol: /invocations in four body formats, /ping, /health, /version."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.engine import ScreeningEngine
from tests.support import oracle
from tests.support.api import auth, count_rows, registered

CASES: list[dict[str, Any]] = [
    {
        "documents_withheld": "yes",
        "debt_bondage": "no",
        "migrant_status": "returnee",
        "destination": "RUS",
        "months_abroad": 14,
        "gender": "man",
    },
    {"sexual_violence": "yes", "no_choice_of_clients": "dont_know", "sector": "hospitality", "months_abroad": 0},
    {"isolation": "declined", "threats": "not_asked", "migrant_status": "prospective"},
]
COLUMNS = sorted({k for case in CASES for k in case})
FLAT_COLUMNS = [
    f"{o}_{c}"
    for o in ("labour", "sexual")
    for c in ("probability", "lower", "upper", "band", "above_threshold", "base_value", "log_odds", "top_reasons")
] + ["status", "refer", "referral_tier", "leaning_tier", "settled", "flip_chance", "next_questions"]


def expected() -> list[dict[str, Any]]:
    """The engine's flat record of each case (the pyfunc gives the same), as JSON carries it."""
    engine = ScreeningEngine(registered().model)
    return [engine.flat(a) for a in engine.assess_many(engine.encode_many(CASES))]


def test_the_expected_records_follow_the_oracle() -> None:
    model = registered().model
    for case, record in zip(CASES, expected(), strict=True):
        assert list(record) == FLAT_COLUMNS
        ref = oracle.score(model, case)
        for name, o in ref.outcomes.items():
            assert record[f"{name}_probability"] == pytest.approx(o.probability, abs=1e-12)
            assert record[f"{name}_log_odds"] == pytest.approx(o.log_odds, abs=1e-9)
            assert record[f"{name}_base_value"] == pytest.approx(o.base_value, abs=1e-12)
            for reason in filter(None, record[f"{name}_top_reasons"].split(";")):
                fid, _, rest = reason.partition("=")
                assert fid in o.contributions
                assert rest.split(":")[0] not in ("not_asked", "declined", "unknown")
        assert record["refer"] is (record["status"] == "refer")
        assert set(filter(None, record["next_questions"].split(";"))) <= set(ref.unasked)


def as_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(CASES)
    return out.getvalue()


BODIES: dict[str, Any] = {
    "dataframe_split": {"dataframe_split": {"columns": COLUMNS, "data": [[c.get(k) for k in COLUMNS] for c in CASES]}},
    "dataframe_records": {"dataframe_records": CASES},
    "inputs": {"inputs": {k: [c.get(k) for c in CASES] for k in COLUMNS}},
    "instances": {"instances": CASES},
}


@pytest.mark.parametrize("form", sorted(BODIES))
def test_json_formats_give_flat_predictions(client: TestClient, keys: dict[str, str], form: str) -> None:
    response = client.post("/invocations", json=BODIES[form], headers=auth(keys, "data-scientist"))
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected()}


def test_csv_gives_flat_predictions(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/invocations", content=as_csv(), headers={**auth(keys, "data-scientist"), "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected()}


def bulk_log(db_url: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(
            "SELECT route, rows, role, key_id, model_name, model_version, questionnaire_version, input_sha256, "
            "outlook_rule FROM bulk_scorings ORDER BY seq"
        ).fetchall()


def test_every_invocation_is_logged_as_bulk_scoring(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    import hashlib

    import orjson

    from models.interview import RULE
    from models.questionnaire import load_questionnaire
    from serving.keys import key_id_of

    first = orjson.dumps(BODIES["dataframe_records"])
    headers = {**auth(keys, "data-scientist"), "Content-Type": "application/json"}
    assert client.post("/invocations", content=first, headers=headers).status_code == 200
    assert client.post("/invocations", content=b'{"dataframe_records": []}', headers=headers).status_code == 200
    # Bulk scoring is not screening: the calls are logged, with their row counts, and no screening is.
    assert count_rows(db_url, "screenings") == 0
    who = ("data-scientist", key_id_of(keys["data-scientist"]), "tarozu-screening", "1", load_questionnaire().version)
    assert bulk_log(db_url) == [
        ("invocations", len(CASES), *who, hashlib.sha256(first).hexdigest(), RULE),
        ("invocations", 0, *who, hashlib.sha256(b'{"dataframe_records": []}').hexdigest(), RULE),
    ]


def test_invocations_need_a_key(client: TestClient, keys: dict[str, str]) -> None:
    assert client.post("/invocations", json=BODIES["inputs"]).status_code == 401


@pytest.mark.parametrize("role", ["screener", "specialist", "reviewer", "admin"])
def test_invocations_are_for_data_scientists_only(
    client: TestClient, keys: dict[str, str], db_url: str, role: str
) -> None:
    response = client.post("/invocations", json=BODIES["inputs"], headers=auth(keys, role))
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["code"], error["allowed"]) == ("forbidden", ["data-scientist"])
    assert "bulk scoring is for data scientists" in error["message"]
    assert count_rows(db_url, "bulk_scorings") == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b'{"data": []}',
        b'{"dataframe_records": [], "inputs": {}}',
        b'{"dataframe_split": {"columns": ["documents_withheld"], "data": [["yes", "no"]]}}',
        b'{"dataframe_split": {"data": [["yes"]]}}',
        b'{"dataframe_split": {"columns": ["documents_withheld"], "data": [["yes"]], "extra": 1}}',
        b'{"dataframe_records": {"documents_withheld": "yes"}}',
        b'{"dataframe_records": [{"no_such_column": "yes"}]}',
        b'{"dataframe_records": [{"documents_withheld": "maybe"}]}',
        b'{"dataframe_records": [{"documents_withheld": "unknown"}]}',
        b'{"dataframe_records": [{"migrant_status": "tourist"}]}',
        b'{"dataframe_records": [{"months_abroad": 1.5}]}',
        b'{"inputs": {"documents_withheld": ["yes"], "isolation": ["no", "yes"]}}',
    ],
)
def test_bad_bodies_are_400_in_mlflow_format(
    client: TestClient, keys: dict[str, str], db_url: str, body: bytes
) -> None:
    response = client.post(
        "/invocations", content=body, headers={**auth(keys, "data-scientist"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    payload = response.json()
    assert set(payload) == {"error_code", "message"}
    assert payload["error_code"] == "BAD_REQUEST"
    assert "Traceback" not in payload["message"]
    assert count_rows(db_url, "bulk_scorings") == 0


def test_bad_csv_is_400(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/invocations",
        content="documents_withheld,isolation\nyes\n",
        headers={**auth(keys, "data-scientist"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/json; charset=latin-1"])
def test_other_content_types_are_415(client: TestClient, keys: dict[str, str], content_type: str) -> None:
    response = client.post(
        "/invocations", content=b"{}", headers={**auth(keys, "data-scientist"), "Content-Type": content_type}
    )
    assert response.status_code == 415
    assert response.json()["error_code"] == "BAD_REQUEST"


def test_empty_input_gives_no_predictions(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post("/invocations", json={"dataframe_records": []}, headers=auth(keys, "data-scientist"))
    assert response.json() == {"predictions": []}


def test_liveness_and_version(client: TestClient) -> None:
    for path in ("/ping", "/health"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
    version = client.get("/version").json()
    assert version["model"] == {"name": "tarozu-screening", "version": "1"}
