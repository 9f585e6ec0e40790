"""`GET /v1/audit/report`: the latest fairness report of the served model, for reviewers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.support.api import auth


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    return tmp_path / "audit"


@pytest.fixture
def settings_overrides(report_dir: Path) -> dict[str, Any]:
    return {"audit_report_dir": str(report_dir)}


def publish(report_dir: Path, *, name: str, version: str) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "latest.json").write_bytes(orjson.dumps({"model": {"name": name, "version": version}, "groups": {}}))
    (report_dir / "latest.html").write_text("<!doctype html><title>Fairness report</title>", encoding="utf-8")


def served(client: TestClient, keys: dict[str, str]) -> tuple[str, str]:
    info = client.get("/v1/model", headers=auth(keys, "reviewer")).json()
    return info["name"], info["version"]


def test_no_report_yet_is_404_that_says_how_to_make_one(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/v1/audit/report", headers=auth(keys, "reviewer"))
    assert response.status_code == 404
    assert "tarozu audit" in response.json()["error"]["message"]


def test_reviewer_gets_json_or_html_by_accept(client: TestClient, keys: dict[str, str], report_dir: Path) -> None:
    name, version = served(client, keys)
    publish(report_dir, name=name, version=version)
    as_json = client.get("/v1/audit/report", headers=auth(keys, "reviewer"))
    assert as_json.status_code == 200
    assert as_json.json()["model"]["version"] == version
    as_html = client.get("/v1/audit/report", headers={**auth(keys, "reviewer"), "Accept": "text/html"})
    assert as_html.headers["content-type"].startswith("text/html")
    assert "Fairness report" in as_html.text


def test_a_report_of_another_version_is_not_served(client: TestClient, keys: dict[str, str], report_dir: Path) -> None:
    name, version = served(client, keys)
    publish(report_dir, name=name, version=version + "0")
    assert client.get("/v1/audit/report", headers=auth(keys, "reviewer")).status_code == 404


@pytest.mark.parametrize(("role", "status"), [("screener", 403), ("specialist", 403), ("data-scientist", 404)])
def test_roles(client: TestClient, keys: dict[str, str], role: str, status: int) -> None:
    assert client.get("/v1/audit/report", headers=auth(keys, role)).status_code == status
    assert client.get("/v1/audit/report").status_code == 401
