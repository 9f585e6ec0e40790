"""`GET /v1/audit/report`: the fairness report of the served model, which travels with the model.

The report is the ``fairness/`` artifact of the model's MLflow run; the registry reads it with
the model (fast SQL path and MLflow's client alike), and the API serves it from the loaded model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from serving import registry
from serving.registry import FairnessReport, RegisteredModel
from tests.support.api import ModelBox, auth, registered as plain_registered

HTML = b"<!doctype html><title>Fairness report</title>"


def with_report(model: RegisteredModel, *, marker: str) -> RegisteredModel:
    body = {"kind": "model", "model": {"name": model.name, "version": model.version}, "marker": marker}
    return dataclasses.replace(model, fairness_report=FairnessReport(json=orjson.dumps(body), html=HTML))


@pytest.fixture
def model_box() -> ModelBox:
    return ModelBox(current=with_report(plain_registered(), marker="first"))


def test_reviewer_gets_the_served_models_report_as_json_or_html(
    client: TestClient, keys: dict[str, str], model_box: ModelBox
) -> None:
    report = model_box.current.fairness_report
    assert report is not None
    as_json = client.get("/v1/audit/report", headers=auth(keys, "reviewer"))
    assert as_json.status_code == 200
    assert as_json.content == report.json  # the run's bytes, as written
    assert as_json.json()["model"]["version"] == model_box.current.version
    as_html = client.get("/v1/audit/report", headers={**auth(keys, "reviewer"), "Accept": "text/html"})
    assert as_html.headers["content-type"].startswith("text/html")
    assert as_html.content == HTML


def test_a_reload_serves_the_report_of_the_model_it_loads(
    client: TestClient, keys: dict[str, str], model_box: ModelBox
) -> None:
    assert client.get("/v1/audit/report", headers=auth(keys, "reviewer")).json()["marker"] == "first"
    model_box.current = with_report(plain_registered("2"), marker="second")
    assert client.post("/v1/admin/reload", headers=auth(keys, "data-scientist")).status_code == 200
    second = client.get("/v1/audit/report", headers=auth(keys, "reviewer")).json()
    assert (second["marker"], second["model"]["version"]) == ("second", "2")
    model_box.current = plain_registered("3")  # a version whose run has no report
    assert client.post("/v1/admin/reload", headers=auth(keys, "data-scientist")).status_code == 200
    assert client.get("/v1/audit/report", headers=auth(keys, "reviewer")).status_code == 404


def test_a_model_without_a_report_is_404_that_says_how_to_make_and_load_one(
    client: TestClient, keys: dict[str, str], model_box: ModelBox
) -> None:
    model_box.current = plain_registered()
    assert client.post("/v1/admin/reload", headers=auth(keys, "data-scientist")).status_code == 200
    response = client.get("/v1/audit/report", headers=auth(keys, "reviewer"))
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "tarozu audit --model models:/tarozu-screening@champion" in message
    assert "POST /v1/admin/reload" in message


@pytest.mark.parametrize(("role", "status"), [("screener", 403), ("specialist", 403), ("data-scientist", 200)])
def test_roles(client: TestClient, keys: dict[str, str], role: str, status: int) -> None:
    assert client.get("/v1/audit/report", headers=auth(keys, role)).status_code == status
    assert client.get("/v1/audit/report").status_code == 401


# ---------------------------------------------------------------------------- the registry
def _register_with_documents(*, report: bool) -> str:
    import mlflow

    from pipeline import registration
    from tests.support.factories import make_model

    experiment = registration.ensure_experiment("report-test")
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_dict({"model_details": {"name": registry.MODEL_NAME}}, "model_card/model_card.json")
        if report:
            mlflow.log_text('{"kind": "model", "marker": "trained"}', "fairness/report.json")
            mlflow.log_text("<!doctype html><title>trained</title>", "fairness/report.html")
        version, _ = registration.log_screening_model(make_model(0), registered_name=registry.MODEL_NAME)
    assert version is not None
    registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHAMPION, version=version)
    return version


def test_the_registry_reads_the_runs_report_with_the_model_on_both_paths(mlflow_home: Path) -> None:
    uri = registry.resolve_tracking_uri()
    _register_with_documents(report=True)
    direct = registry._locate_sql(registry.MODEL_NAME, registry.CHAMPION, uri)
    through_client = registry._locate_mlflow(registry.MODEL_NAME, registry.CHAMPION, uri)
    assert direct is not None, "a local SQLite registry is read directly"
    assert through_client is not None
    assert direct.fairness is not None
    assert direct.fairness == through_client.fairness
    assert json.loads(direct.fairness.json)["marker"] == "trained"
    assert direct.fairness.html == b"<!doctype html><title>trained</title>"
    assert registry.load_registered().fairness_report == direct.fairness

    _register_with_documents(report=False)  # version 2, now @champion, has no report
    assert registry._locate_mlflow(registry.MODEL_NAME, registry.CHAMPION, uri).fairness is None  # type: ignore[union-attr]
    loaded = registry.load_registered()
    assert (loaded.version, loaded.fairness_report) == ("2", None)


@pytest.mark.slow
def test_tarozu_audit_replaces_the_report_that_the_model_then_carries(mlflow_home: Path) -> None:
    from pipeline.cli import main

    version = _register_with_documents(report=True)
    out = mlflow_home / "report"
    argv = ["audit", "--model", "models:/tarozu-screening@champion", "--rows", "3000", "--n-boot", "0"]
    assert main([*argv, "--out", str(out)]) == 0
    report = registry.load_registered().fairness_report
    assert report is not None
    assert report.json == (out / "report.json").read_bytes()
    assert report.html == (out / "report.html").read_bytes()
    model = json.loads(report.json)["model"]
    assert (model["name"], str(model["version"])) == (registry.MODEL_NAME, version)
