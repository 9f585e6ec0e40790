"""The MLflow scoring-server protocol: /invocations in four body formats, /ping, /health, /version."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from conftest import auth, count_rows, registered
from fastapi.testclient import TestClient

from models.screening import flat_predictions

CASES: list[dict[str, Any]] = [
    {"documents_withheld": "yes", "debt_bondage": "no", "destination": "RUS", "months_abroad": 14, "gender": "man"},
    {"sexual_violence": "yes", "forced_tasks_or_clients": "yes", "sector": "hospitality", "months_abroad": 0},
    {"isolation": "declined"},
]
COLUMNS = sorted({k for case in CASES for k in case})


def expected() -> list[dict[str, Any]]:
    model = registered().model
    codes = [model.encode(case) for case in CASES]
    import numpy as np

    return flat_predictions(model, np.vstack(codes))


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
        "/invocations", content=as_csv(), headers={**auth(keys, "screener"), "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected()}


def test_every_invocation_is_logged(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    client.post("/invocations", json=BODIES["dataframe_records"], headers=auth(keys, "data-scientist"))
    assert count_rows(db_url, "screenings") == len(CASES)
    import sqlite3

    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute("SELECT source, role, screener_assessment FROM screenings").fetchall()
    assert set(rows) == {("invocations", "data-scientist", None)}


def test_invocations_need_a_key(client: TestClient, keys: dict[str, str]) -> None:
    assert client.post("/invocations", json=BODIES["inputs"]).status_code == 401
    assert client.post("/invocations", json=BODIES["inputs"], headers=auth(keys, "reviewer")).status_code == 403


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
        b'{"dataframe_records": [{"months_abroad": 1.5}]}',
        b'{"inputs": {"documents_withheld": ["yes"], "isolation": ["no", "yes"]}}',
    ],
)
def test_bad_bodies_are_400_in_mlflow_format(
    client: TestClient, keys: dict[str, str], db_url: str, body: bytes
) -> None:
    response = client.post(
        "/invocations", content=body, headers={**auth(keys, "screener"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    payload = response.json()
    assert set(payload) == {"error_code", "message"}
    assert payload["error_code"] == "BAD_REQUEST"
    assert "Traceback" not in payload["message"]
    assert count_rows(db_url, "screenings") == 0


def test_bad_csv_is_400(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/invocations",
        content="documents_withheld,isolation\nyes\n",
        headers={**auth(keys, "screener"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/json; charset=latin-1"])
def test_other_content_types_are_415(client: TestClient, keys: dict[str, str], content_type: str) -> None:
    response = client.post(
        "/invocations", content=b"{}", headers={**auth(keys, "screener"), "Content-Type": content_type}
    )
    assert response.status_code == 415
    assert response.json()["error_code"] == "BAD_REQUEST"


def test_empty_input_gives_no_predictions(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post("/invocations", json={"dataframe_records": []}, headers=auth(keys, "screener"))
    assert response.json() == {"predictions": []}


def test_liveness_and_version(client: TestClient) -> None:
    for path in ("/ping", "/health"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
    version = client.get("/version").json()
    assert version["model"] == {"name": "tarozu-screening", "version": "1"}
