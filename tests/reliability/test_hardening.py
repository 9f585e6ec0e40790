"""Smaller hardening: the audit database's file mode, JSON-only bodies, which proxies are
believed, and the fairness report's CSP."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.cli import main
from serving.auditlog.database import make_engine, run_migrations
from serving.middleware import report_csp
from tests.support.api import auth, example, registered


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_audit_database_is_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "audit.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        run_migrations(engine)
        with engine.connect() as conn:  # WAL: the -wal and -shm files exist while connected
            conn.exec_driver_sql("SELECT 1")
            files = [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm"))]
            assert {f.name: mode(f) for f in files if f.exists()} == {f.name: 0o600 for f in files}
    finally:
        engine.dispose()
    assert mode(path.parent) == 0o700


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"]
)
def test_json_routes_refuse_other_content_types(client: TestClient, keys: dict[str, str], content_type: str) -> None:
    import orjson

    body = orjson.dumps(example())
    response = client.post(
        "/v1/screenings", content=body, headers={**auth(keys, "screener"), "Content-Type": content_type}
    )
    assert response.status_code == 415
    assert response.json()["error"]["allowed"] == ["application/json"]
    ok = client.post(
        "/v1/screenings", content=body, headers={**auth(keys, "screener"), "Content-Type": "application/json"}
    )
    assert ok.status_code == 201


def test_serve_believes_x_forwarded_for_only_from_configured_proxies(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    import uvicorn

    import pipeline.cli.serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(pipeline.cli.serve, "registry_loader", lambda _s: registered())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "development")
    assert main(["serve", "--database-url", db_url]) == 0
    assert (seen["proxy_headers"], seen["forwarded_allow_ips"]) == (False, [])
    monkeypatch.setenv("TAROZU_TRUSTED_PROXIES", "10.0.0.5, 192.0.2.0/24")
    assert main(["serve", "--database-url", db_url]) == 0
    assert (seen["proxy_headers"], seen["forwarded_allow_ips"]) == (True, ["10.0.0.5", "192.0.2.0/24"])


def test_a_trusted_proxy_must_be_an_address_or_network() -> None:
    from pydantic import ValidationError

    from serving.settings import Settings

    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(environment="development", trusted_proxies=["localhost"])


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_report_csp_allows_exactly_its_own_inline_styles() -> None:
    page = (
        b"<html><head><style>body{color:#111}</style></head><body>"
        b"<svg><path style=\"fill: #ffffff\"/><path style='stroke: #000000; stroke-width: 0.8'/>"
        b'<path style="fill: #ffffff"/><text style="font: 8px &quot;DejaVu Sans&quot;">a</text></svg></body></html>'
    )
    csp = report_csp(page)
    assert csp.startswith("default-src 'none'; style-src 'unsafe-hashes' ")
    style_src = csp.split("; ")[1].split()[2:]
    expected = ["body{color:#111}", "fill: #ffffff", "stroke: #000000; stroke-width: 0.8", 'font: 8px "DejaVu Sans"']
    assert sorted(style_src) == sorted(_hash(t) for t in expected)
    assert "script-src" not in csp  # default-src 'none': no script at all
    assert "frame-ancestors 'none'" in csp
    assert report_csp(b"<html><body>plain</body></html>").split("; ")[1] == "style-src 'none'"


def test_the_served_report_carries_its_own_csp(keys: dict[str, str], settings: Any, model_box: Any) -> None:
    import dataclasses

    import orjson

    from pipeline.fairness.report import STYLE
    from serving.app import create_app
    from serving.registry import FairnessReport

    served = model_box.current
    report = FairnessReport(
        json=orjson.dumps({"model": {"name": served.name, "version": served.version}}),
        html=f"<html><head><style>{STYLE}</style></head><body>r</body></html>".encode(),
    )
    model_box.current = dataclasses.replace(served, fairness_report=report)
    app = create_app(settings, model_loader=model_box.load)
    with TestClient(app) as client:
        response = client.get("/v1/audit/report", headers={**auth(keys, "reviewer"), "Accept": "text/html"})
        assert response.status_code == 200
        assert _hash(STYLE) in response.headers["content-security-policy"]
        assert response.text.endswith("r</body></html>")
        as_json = client.get("/v1/audit/report", headers=auth(keys, "reviewer"))
        assert as_json.headers["content-security-policy"].startswith("default-src 'self'")


def test_cli_revocation_says_how_long_running_servers_may_still_accept_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    assert main(["keys", "--database-url", url, "create", "--role", "screener"]) == 0
    key = capsys.readouterr().out.strip()
    assert main(["keys", "--database-url", url, "revoke", key.split("_")[1]]) == 0
    assert "refuse it within 5 s" in capsys.readouterr().err
