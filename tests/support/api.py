"""The API's test helpers: the test secret, models to load, keys, the documented example."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fastapi.testclient import TestClient

from serving.auditlog.writer import Operation
from serving.registry import RegisteredModel
from serving.schemas import SCREENING_EXAMPLE
from serving.settings import Settings
from tests.support.factories import make_registered

TEST_SECRET = "test-secret-" + "x" * 40


@cache
def registered(version: str = "1", seed: int = 0) -> RegisteredModel:
    """Models are never mutated, so one per (version, seed) serves the whole session."""
    return make_registered(version, seed=seed)


@dataclass
class ModelBox:
    """What the injected loader returns; tests change it to simulate the registry."""

    current: RegisteredModel = field(default_factory=registered)
    error: Exception | None = None
    calls: int = 0

    def load(self, _settings: Settings) -> RegisteredModel:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.current


def auth(keys: dict[str, str], role: str, *, bearer: bool = False) -> dict[str, str]:
    key = keys[role]
    return {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}


def example(**changes: Any) -> dict[str, Any]:
    """The documented example request, with top-level changes."""
    case = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SCREENING_EXAMPLE.items()}
    case.update(changes)
    return case


def screen(client: TestClient, keys: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/screenings", json=example(**changes), headers=auth(keys, "screener"))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def count_rows(db_url: str, table: str) -> int:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


@dataclass
class _OnWritersConnection(Operation):
    """Runs a statement on the audit writer's own connection, in the writer's process."""

    statement: str

    def apply(self, tx: Any, chain: Any) -> None:
        tx.conn.exec_driver_sql(self.statement)


def on_writers_connection(client: TestClient, statement: str) -> None:
    """Run ``statement`` (a pragma that breaks it, say) on the connection the app's audit writer writes with."""
    writer = client.app.state.services.writer  # type: ignore[attr-defined]
    client.portal.call(writer.submit, _OnWritersConnection(statement))  # type: ignore[union-attr]


def raw_screening_row(screening_id: str, *, key_id: str, role: str = "screener", refer: bool = False) -> dict[str, Any]:
    """A minimal screening row as the audit writer takes it (for writer-level tests)."""
    return {
        "screening_id": screening_id,
        "role": role,
        "key_id": key_id,
        "source": "api",
        "model_name": "m",
        "model_version": "1",
        "questionnaire_version": "q",
        "lang": "en",
        "case_ref_hmac": None,
        "screener_assessment": "low",
        "answers": "{}",
        "context": "{}",
        "audit": "{}",
        "result": "{}",
        "refer": refer,
    }
