"""API keys: the CLI, the admin API, revocation, hashing, and development keys."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.cli import main
from serving.keys import DEV_ONLY, ensure_dev_keys, key_id_of
from serving.schemas import ROLES
from serving.settings import Settings
from tests.support.api import auth, example


def test_cli_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    assert main(["keys", "--database-url", url, "create", "--role", "reviewer", "--label", "audit desk"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    key_id = key_id_of(key)
    assert key_id
    assert "shown only now" in out.err
    with sqlite3.connect(tmp_path / "keys.db") as conn:
        stored = conn.execute("SELECT key_id, key_hash, role FROM api_keys").fetchall()
    assert stored == [(key_id, hashlib.sha256(key.encode()).hexdigest(), "reviewer")]
    assert key.encode() not in (tmp_path / "keys.db").read_bytes()
    assert main(["keys", "--database-url", url, "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing
    assert "audit desk" in listing
    assert key not in listing
    assert main(["keys", "--database-url", url, "revoke", key_id]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "--database-url", url, "revoke", "nope"]) == 1


def test_cli_refuses_unknown_roles(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "--database-url", f"sqlite:///{tmp_path / 'k.db'}", "create", "--role", "root"])


def test_admin_manages_keys_over_the_api(client: TestClient, keys: dict[str, str]) -> None:
    created = client.post("/v1/admin/keys", json={"role": "screener", "label": "desk 4"}, headers=auth(keys, "admin"))
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith("tarozu_")
    assert new["role"] == "screener"
    new_headers = {"X-API-Key": new["key"]}
    assert client.post("/v1/screenings", json=example(), headers=new_headers).status_code == 201
    listed = client.get("/v1/admin/keys", headers=auth(keys, "admin")).json()
    assert new["key_id"] in {k["key_id"] for k in listed}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    revoked = client.delete(f"/v1/admin/keys/{new['key_id']}", headers=auth(keys, "admin"))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    assert client.post("/v1/screenings", json=example(), headers=new_headers).status_code == 401
    assert client.delete("/v1/admin/keys/nope", headers=auth(keys, "admin")).status_code == 404


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_only_admins_manage_keys(client: TestClient, keys: dict[str, str], role: str) -> None:
    assert client.get("/v1/admin/keys", headers=auth(keys, role)).status_code == 403
    assert client.post("/v1/admin/keys", json={"role": "admin"}, headers=auth(keys, role)).status_code == 403


def test_bad_key_requests_are_422(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post("/v1/admin/keys", json={"role": "root"}, headers=auth(keys, "admin"))
    assert response.status_code == 422
    assert response.json()["error"]["allowed"] == list(ROLES)


@pytest.mark.parametrize("settings_overrides", [{"key_cache_seconds": 3600}])
def test_key_created_elsewhere_works_at_once(
    client: TestClient, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    time.sleep(1.1)  # past the refresh-on-miss interval
    assert main(["keys", "--database-url", db_url, "create", "--role", "screener"]) == 0
    key = capsys.readouterr().out.strip()
    assert client.post("/v1/screenings", json=example(), headers={"X-API-Key": key}).status_code == 201


def test_dev_keys_only_in_development(tmp_path: Path) -> None:
    production = Settings(
        environment="production", hmac_secret=SecretStr("s" * 40), database_url=f"sqlite:///{tmp_path / 'd.db'}"
    )
    with pytest.raises(PermissionError, match="development"):
        ensure_dev_keys(production, path=tmp_path / "dev-keys.json")
    assert DEV_ONLY


def test_dev_keys_are_kept_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(environment="development", database_url=f"sqlite:///{tmp_path / 'var' / 'd.db'}")
    path = tmp_path / "var" / "dev-keys.json"
    first = ensure_dev_keys(settings, path=path)
    assert set(first) == set(ROLES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == first
    assert ensure_dev_keys(settings, path=path) == first
    # A fresh database: the stored keys no longer exist there, so new ones are made.
    (tmp_path / "var" / "d.db").unlink()
    third = ensure_dev_keys(settings, path=path)
    assert set(third.values()).isdisjoint(first.values())
    with sqlite3.connect(tmp_path / "var" / "d.db") as conn:
        active = conn.execute("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0]
    assert active == len(ROLES)


def test_dev_keys_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAROZU_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'audit.db'}")
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "production")
    monkeypatch.setenv("TAROZU_HMAC_SECRET", "s" * 40)
    assert main(["keys", "dev"]) == 2
    assert "TAROZU_ENVIRONMENT=development" in capsys.readouterr().err
    monkeypatch.setenv("TAROZU_ENVIRONMENT", "development")
    assert main(["keys", "dev"]) == 0
    out = capsys.readouterr().out
    stored = json.loads((tmp_path / "var" / "dev-keys.json").read_text())
    assert all(role in out and key in out for role, key in stored.items())
