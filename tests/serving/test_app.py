"""The service around the routes: settings, readiness, reload, headers, CORS, the web page,
OpenAPI, and the ``tarozu serve`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from pipeline.cli import main
from serving.app import create_app
from serving.auditlog.database import make_engine, run_migrations
from serving.registry import BrokenModelError, NoChampionError
from serving.settings import Settings
from tests.support.api import TEST_SECRET, ModelBox, auth, example, registered, screen

# ---------------------------------------------------------------------------- settings


def test_placeholder_secret_is_refused_outside_development(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="TAROZU_HMAC_SECRET"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="TAROZU_HMAC_SECRET"):
        Settings(environment="staging", hmac_secret=SecretStr("short"))
    assert Settings(environment="development").hmac_secret.get_secret_value() == "changethis"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "production")
    monkeypatch.setenv("TAROZU_HMAC_SECRET", TEST_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/tarozu")
    monkeypatch.setenv("TAROZU_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("TAROZU_MAX_BATCH_CASES", "50")
    s = Settings()
    assert s.database_url == "postgresql://db/tarozu"
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.max_batch_cases == 50
    monkeypatch.setenv("TAROZU_DATABASE_URL", "sqlite:///x.db")
    assert Settings().database_url == "sqlite:///x.db"


# ---------------------------------------------------------------------------- readiness
def test_ready_when_model_and_database_are(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "model": {"name": "tarozu-screening", "version": "1"},
        "database": "ok",
    }


def test_not_ready_when_the_database_is_unreachable(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    working = services.engine
    services.engine = make_engine("sqlite:////nonexistent-dir/for/tarozu/audit.db")
    try:
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"
        assert client.get("/health").status_code == 200
    finally:
        services.engine.dispose()
        services.engine = working
    assert client.get("/ready").status_code == 200


# ---------------------------------------------------------------------------- reload
@pytest.mark.parametrize("settings_overrides", [{"show_probabilities_to_screeners": True}])  # compares probabilities
def test_reload_switches_to_the_new_champion(client: TestClient, keys: dict[str, str], model_box: ModelBox) -> None:
    before = screen(client, keys)
    model_box.current = registered("2", seed=5)
    response = client.post("/v1/admin/reload", headers=auth(keys, "data-scientist"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "previous": {"name": "tarozu-screening", "version": "1"},
        "current": {"name": "tarozu-screening", "version": "2"},
        "changed": True,
    }
    after = screen(client, keys)
    assert (before["model"]["version"], after["model"]["version"]) == ("1", "2")
    assert before["outcomes"]["labour"]["probability"] != after["outcomes"]["labour"]["probability"]
    assert client.get("/v1/model", headers=auth(keys, "reviewer")).json()["version"] == "2"


@pytest.mark.parametrize(
    "error",
    [NoChampionError("no model has the alias @champion"), BrokenModelError("artifact corrupt")],
)
def test_failed_reload_keeps_the_old_model(
    client: TestClient, keys: dict[str, str], model_box: ModelBox, error: Exception
) -> None:
    model_box.error = error
    response = client.post("/v1/admin/reload", headers=auth(keys, "data-scientist"))
    assert response.status_code == 503
    assert str(error) in response.json()["error"]["message"]
    assert screen(client, keys)["model"]["version"] == "1"


@pytest.mark.parametrize("role", ["screener", "specialist", "reviewer", "admin"])
def test_only_data_scientists_reload(client: TestClient, keys: dict[str, str], role: str) -> None:
    assert client.post("/v1/admin/reload", headers=auth(keys, role)).status_code == 403


def test_start_fails_without_a_champion(settings: Settings, keys: dict[str, str]) -> None:
    box = ModelBox(error=NoChampionError("no champion"))
    with pytest.raises(NoChampionError), TestClient(create_app(settings, model_loader=box.load)):
        pass


# ---------------------------------------------------------------------------- model and questionnaire
def test_model_card(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/v1/model").status_code == 401
    info = client.get("/v1/model", headers=auth(keys, "screener")).json()
    assert (info["name"], info["version"], info["alias"]) == ("tarozu-screening", "1", "champion")
    assert info["metrics"] == {"labour": {"auc": 0.8}, "sexual": {"auc": 0.75}}
    assert info["outcomes"]["labour"]["threshold"] == 0.2
    assert info["outcomes"]["labour"]["bands"]["medium"] == [0.2, 0.5]
    assert info["bands"] == ["low", "medium", "high"]
    served = registered().model
    for outcome in ("labour", "sexual"):
        tiers = info["outcomes"][outcome]["referral"]
        assert tiers == served.outcomes[outcome].referral
        assert tiers["information"] <= tiers["support"] <= tiers["nrm"]


@pytest.mark.parametrize("lang", ["en", "ru", "tg"])
def test_questionnaire_for_any_client(client: TestClient, lang: str) -> None:
    from models.questionnaire import NOT_ASKED_REASONS, load_questionnaire, load_texts

    q = load_questionnaire()
    body = client.get("/v1/questionnaire", params={"lang": lang}).json()
    assert body["lang"] == lang
    assert body["version"] == q.version
    assert [i["id"] for i in body["indicators"]] == list(q.indicator_ids)
    assert [c["id"] for c in body["context"]] == [f.id for f in q.context]
    assert [a["id"] for a in body["monitoring"]] == list(q.monitoring_ids)
    assert {d["id"] for d in body["dimensions"]} == {d for d, _ in q.dimensions}
    months = next(c for c in body["context"] if c["id"] == "months_abroad")
    assert (months["type"], months["min"], months["max"]) == ("months", 0, 600)
    assert [o["value"] for o in body["indicators"][0]["options"]] == ["yes", "no", "dont_know", "declined", "not_asked"]
    assert [a["value"] for a in body["answers"]] == ["yes", "no", "dont_know", "declined", "not_asked"]
    assert "caveat" in body["messages"]
    # who each question is put to: prospective migrants are not asked about work abroad
    applies = {i["id"]: i["applies_to"] for i in body["indicators"]}
    assert applies == {f.id: list(f.applies_to) for f in q.indicators}
    assert set(applies["deceived_job_nature"]) == {"returnee", "prospective", "family_member"}
    for fid in ("excessive_hours", "dependent_on_employer"):
        assert applies[fid] == ["returnee"]  # not in the family module
    assert set(applies["documents_withheld"]) == {"returnee", "family_member"}
    assert applies["lost_contact"] == ["family_member"]
    assert {i["id"] for i in body["indicators"] if "prospective" not in i["applies_to"] and i["applies_to"]} == {
        f.id for f in q.indicators if not f.applies("prospective")
    }
    # why a question was not asked, and the danger question, in this language
    assert [r["value"] for r in body["not_asked_reasons"]] == list(NOT_ASKED_REASONS)
    assert all(r["label"] and r["label"] != r["value"] for r in body["not_asked_reasons"])
    assert body["danger"]["question"]
    assert sorted(o["value"] for o in body["danger"]["options"]) == sorted(["yes", "no", "declined", "not_asked"])
    assert all(o["label"] for o in body["danger"]["options"])
    texts = load_texts(lang).raw
    assert body["danger"]["question"] == str(texts["danger"]["question"])
    assert {r["label"] for r in body["not_asked_reasons"]} == {str(v) for v in texts["not_asked_reasons"].values()}


def test_questionnaire_texts_differ_by_language(client: TestClient) -> None:
    bodies = {lang: client.get("/v1/questionnaire", params={"lang": lang}).json() for lang in ("en", "ru", "tg")}
    assert len({b["danger"]["question"] for b in bodies.values()}) == 3
    assert len({b["not_asked_reasons"][0]["label"] for b in bodies.values()}) == 3


def test_questionnaire_rejects_unknown_languages(client: TestClient) -> None:
    response = client.get("/v1/questionnaire", params={"lang": "fr"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "lang"


# ---------------------------------------------------------------------------- HTTP surface
SECURITY = {
    "content-security-policy": "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "
    "object-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/nowhere", 404),
        ("POST", "/v1/screenings", 401),
        ("GET", "/", 200),
        ("DELETE", "/health", 405),
        ("GET", "/static/index.html", 200),
    ],
)
def test_security_headers_on_every_response(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY.items():
        assert response.headers[name] == value
    if status >= 400:
        assert "error" in response.json()


def test_docs_are_off_in_production_by_default(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
    assert client.get("/openapi.json").status_code == 200  # the contract stays readable


@pytest.mark.parametrize("settings_overrides", [{"docs_enabled": True}])
def test_docs_page_loads_local_assets_without_inline_code(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'")
    assert "unsafe-inline" not in csp
    assert "http" not in csp
    assert "<script>" not in response.text  # every script is a file
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/static/docs.js"):
        assert asset in response.text
        assert client.get(asset).status_code == 200


def test_docs_are_on_by_default_in_development_only() -> None:
    assert Settings(environment="development").docs_on
    assert not Settings(environment="production", hmac_secret=TEST_SECRET).docs_on
    assert not Settings(environment="staging", hmac_secret=TEST_SECRET).docs_on
    assert Settings(environment="production", hmac_secret=TEST_SECRET, docs_enabled=True).docs_on


def test_web_page_at_root(client: TestClient) -> None:
    response = client.get("/")
    assert response.headers["content-type"].startswith("text/html")
    assert "Tarozu" in response.text


def test_cors_is_closed_by_default(client: TestClient) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    response = client.options("/v1/screenings", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    assert (
        "access-control-allow-origin" not in client.get("/health", headers={"Origin": "https://evil.example"}).headers
    )


@pytest.mark.parametrize("settings_overrides", [{"cors_origins": ["https://screening.example"]}])
def test_cors_opens_for_configured_origins(client: TestClient) -> None:
    ok = {"Origin": "https://screening.example", "Access-Control-Request-Method": "POST"}
    assert (
        client.options("/v1/screenings", headers=ok).headers["access-control-allow-origin"]
        == "https://screening.example"
    )
    bad = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/screenings", headers=bad).headers


def test_unexpected_errors_are_500_without_details(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import serving.usecases

    def explode(case: Any, *_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"secret detail {case.case_ref}")  # request data in the message

    monkeypatch.setattr(serving.usecases, "_case_row", explode)
    response = client.post("/v1/screenings", json=example(), headers=auth(keys, "screener"))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "NRM-2026-0042" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert "NRM-2026-0042" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_openapi_documents_bodies_errors_and_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert {"ScreeningRequest", "Answers", "Context", "MonitoringFields", "ErrorBody", "MlflowError"} <= set(components)
    assert set(components["Answers"]["properties"]) >= {"documents_withheld", "debt_bondage"}
    assert components["ScreeningRequest"]["additionalProperties"] is False
    assert components["ScreeningRequest"]["examples"]
    post = schema["paths"]["/v1/screenings"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ScreeningRequest")
    assert {"400", "401", "403", "413", "422", "503"} <= set(post["responses"])
    assert "text/csv" in schema["paths"]["/v1/screenings:batch"]["post"]["requestBody"]["content"]
    decision = schema["paths"]["/v1/screenings/{screening_id}/decision"]["post"]["responses"]
    assert {"404", "409"} <= set(decision)
    security = schema["components"]["securitySchemes"]
    assert {s["type"] for s in security.values()} == {"http", "apiKey"}
    assert post["security"] == [{name: []} for name in security]
    assert "Roles allowed: screener." in post["description"]
    listing = schema["paths"]["/v1/screenings"]["get"]
    assert "Roles allowed: screener, supervisor, reviewer, data-scientist." in listing["description"]
    for public in ("/health", "/ready", "/v1/questionnaire"):
        assert "security" not in schema["paths"][public]["get"]

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    for ref in refs(schema):
        assert ref.removeprefix("#/components/schemas/") in components, ref


# ---------------------------------------------------------------------------- telemetry
TRACED = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exported = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exported))
trace.set_tracer_provider(provider)  # as an agent (opentelemetry-instrument) installs one, before the app

from fastapi.testclient import TestClient
from serving.app import create_app
from serving.settings import Settings
from tests.support.api import ModelBox, example

settings = Settings(environment="development", database_url=sys.argv[1], telemetry=json.loads(sys.argv[2]))
with TestClient(create_app(settings, model_loader=ModelBox().load)) as client:
    client.get("/health")
    client.post("/v1/screenings", json=example(), headers={"X-API-Key": "tarozu_0000_wrong"})
print(json.dumps([{"name": s.name, **dict(s.attributes or {})} for s in exported.get_finished_spans()]))
"""


@pytest.mark.parametrize("on", [False, True], ids=["unset", "TAROZU_TELEMETRY"])
def test_request_telemetry_leaves_the_server_only_when_its_setting_says_so(tmp_path: Path, on: bool) -> None:
    """With an OpenTelemetry provider installed in the process (as an agent does) and FastAPI told to
    configure its own export (FASTAPI_OTEL_AUTO_CONFIGURE), the API still sends no span unless
    TAROZU_TELEMETRY is set; set, each request is a span (so the setting is what decides). In a process
    of its own: OpenTelemetry's provider is set once per process."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    run_migrations(engine)
    engine.dispose()
    # Unset, the setting overrides FastAPI's own switch; set, FastAPI's export of its own would need a collector.
    env = {**os.environ, "FASTAPI_OTEL_AUTO_CONFIGURE": "false" if on else "true"}
    done = subprocess.run(
        [sys.executable, "-c", TRACED, url, json.dumps(on)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    spans = json.loads(done.stdout.strip().splitlines()[-1])
    if not on:
        assert spans == []
    else:
        paths = [s.get("url.path") for s in spans]
        assert paths.count("/health") == 1
        assert paths.count("/v1/screenings") == 1
        assert all("X-API-Key" not in json.dumps(s) and "tarozu_0000_wrong" not in json.dumps(s) for s in spans)


# ---------------------------------------------------------------------------- tarozu serve
def test_serve_without_a_champion_exits_2_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    import pipeline.cli.serve

    def no_champion(_settings: Settings) -> Any:
        raise NoChampionError("no model has the alias @champion. Train one with `tarozu train`")

    monkeypatch.setattr(pipeline.cli.serve, "registry_loader", no_champion)
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "development")
    assert main(["serve", "--database-url", db_url]) == 2
    err = capsys.readouterr().err
    assert "tarozu train" in err
    assert "Traceback" not in err


def test_serve_refuses_a_placeholder_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "production")
    monkeypatch.delenv("TAROZU_HMAC_SECRET", raising=False)
    assert main(["serve"]) == 2
    assert "TAROZU_HMAC_SECRET" in capsys.readouterr().err


def test_serve_runs_one_worker_without_access_log(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    import uvicorn

    import pipeline.cli.serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(pipeline.cli.serve, "registry_loader", lambda _s: registered())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app, **kwargs))
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "development")
    assert main(["serve", "--database-url", db_url, "--port", "8123"]) == 0
    assert (seen["host"], seen["port"], seen["workers"], seen["access_log"]) == ("127.0.0.1", 8123, 1, False)
    with TestClient(seen["app"]) as started:
        assert started.get("/version").json()["model"]["version"] == "1"


def test_method_not_allowed_lists_every_method_of_the_path(client: TestClient, keys: dict[str, str]) -> None:
    response = client.request("PUT", "/v1/admin/keys", headers=auth(keys, "admin"))
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) >= {"GET", "POST"}
    assert {"GET", "POST"} <= set(response.json()["error"]["allowed"])


def test_serve_refuses_a_read_only_audit_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pipeline.cli.serve

    monkeypatch.setattr(pipeline.cli.serve, "registry_loader", lambda _s: registered())
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "development")
    path = db_url.removeprefix("sqlite:///")
    assert main(["serve", "--database-url", f"sqlite:///file:{path}?mode=ro&uri=true"]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err
    assert "Traceback" not in err


def test_the_server_imports_pandas_only_to_score_in_bulk() -> None:
    """pandas (about half a second of imports) is not imported to start the server: only bulk scoring
    (``/invocations``) uses it, and imports it when first called."""
    check = "import sys, pipeline.cli.serve; print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr[-2000:]
