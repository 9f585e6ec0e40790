"""The README's matrix of roles and routes, called route by route with every role and without a key.

The matrix is read from the README (its table under "API and roles"), and the routes from the
app's OpenAPI document: a route without a row, a row without a route, or a route without a valid
request below fails. Each cell is called with a request that succeeds for an allowed caller, so a
403 or 404 measures the rule, not a bad request.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.auditlog.database import make_engine
from serving.keys import create_key
from serving.registry import FairnessReport
from serving.schemas import ROLES
from serving.settings import Settings
from tests.support.api import TEST_SECRET, ModelBox, auth, example, registered, screen

README = Path(__file__).resolve().parents[2] / "README.md"
NO_KEY = "no key"
WHO = (NO_KEY, *ROLES)
CELLS = {"yes", "own", "override", "view", "—"}
ROW = re.compile(r"^\| `(?P<method>[A-Z]+) (?P<path>[^`]+)` \|(?P<cells>.*)\|\s*$")


def read_matrix(text: str) -> dict[str, dict[str, str]]:
    """``{"METHOD /path": {who: cell}}`` from the README's table whose header starts with ``| Route |``."""
    section = text[text.index("## API and roles") :]
    lines = section.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("| Route |"))
    header = [h.strip() for h in lines[header_at].strip("|").split("|")][1:]
    matrix: dict[str, dict[str, str]] = {}
    for line in lines[header_at + 2 :]:
        if not line.startswith("|"):
            break
        found = ROW.match(line)
        assert found, f"a matrix row that is not '| `METHOD /path` | ... |': {line!r}"
        cells = [c.strip() for c in found["cells"].split("|")]
        assert len(cells) == len(header), line
        matrix[f"{found['method']} {found['path']}"] = dict(zip(header, cells, strict=True))
    return matrix


def documented_operations() -> dict[str, dict[str, Any]]:
    """Every operation of the app's OpenAPI document (read without starting the app)."""
    app = create_app(Settings(environment="production", hmac_secret=TEST_SECRET, database_url="sqlite://"))
    paths = app.openapi()["paths"]
    return {f"{method.upper()} {path}": op for path, ops in paths.items() for method, op in ops.items()}


MATRIX = read_matrix(README.read_text(encoding="utf-8"))
OPERATIONS = documented_operations()


def success_status(operation: str) -> int:
    return min(int(code) for code in OPERATIONS[operation]["responses"] if code.startswith("2"))


# ---------------------------------------------------------------------------- the matrix itself
def test_the_matrix_has_every_role_and_only_known_cells() -> None:
    assert MATRIX, "no matrix found in the README"
    for operation, row in MATRIX.items():
        assert tuple(row) == WHO, f"{operation}: columns {list(row)}, expected {list(WHO)}"
        assert set(row.values()) <= CELLS, f"{operation}: unknown cells {set(row.values()) - CELLS}"


def test_every_documented_route_has_a_row_and_every_row_a_route() -> None:
    assert set(OPERATIONS) - set(MATRIX) == set(), "routes missing from the README's matrix"
    assert set(MATRIX) - set(OPERATIONS) == set(), "rows of the README's matrix with no such route"


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_the_document_names_the_roles_of_the_matrix(operation: str) -> None:
    """The OpenAPI "Roles allowed" line agrees with the matrix (public routes have none)."""
    row = MATRIX.get(operation)
    assert row is not None, f"{operation} has no row in the README's matrix"
    found = re.search(r"Roles allowed: ([a-z, -]+)\.", OPERATIONS[operation].get("description") or "")
    allowed = {role for role in ROLES if row[role] != "—"}
    if row[NO_KEY] == "yes":
        assert found is None
        assert allowed == set(ROLES)
    else:
        assert found is not None, operation
        assert {r.strip() for r in found.group(1).split(",")} == allowed


# ---------------------------------------------------------------------------- calling every cell
@dataclass
class Call:
    """A request that succeeds for a caller the matrix allows."""

    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    db_url: str

    def screening(self, key: str | None = None) -> str:
        """A new screening by the test screener's key, or by ``key``."""
        if key is None:
            return str(screen(self.client, self.keys)["screening_id"])
        response = self.client.post("/v1/screenings", json=example(), headers={"X-API-Key": key})
        assert response.status_code == 201, response.text
        return str(response.json()["screening_id"])

    def other_screener(self) -> str:
        """Another screener's key (made through the API, which refreshes the key cache at once)."""
        made = self.client.post("/v1/admin/keys", json={"role": "screener"}, headers=auth(self.keys, "admin"))
        assert made.status_code == 201, made.text
        return str(made.json()["key"])


def _batch_case() -> dict[str, Any]:
    return {k: v for k, v in example().items() if k not in ("screener_assessment", "case_ref")}


def _report(w: World) -> Call:
    """The served model carries a fairness report (see the ``model_box`` fixture)."""
    return Call("GET", "/v1/audit/report")


def _revoke(w: World) -> Call:
    engine = make_engine(w.db_url)
    try:
        key_id = create_key(engine, role="reviewer", label="to revoke")["key_id"]
    finally:
        engine.dispose()
    return Call("DELETE", f"/v1/admin/keys/{key_id}")


def _reinstate(w: World) -> Call:
    withdrawn = w.client.post("/v1/admin/model:withdraw", json={"reason": "test"}, headers=auth(w.keys, "admin"))
    assert withdrawn.status_code == 201, withdrawn.text
    return Call("POST", "/v1/admin/model:reinstate", json={"reason": "checked"})


RECORD = {"dataframe_records": [{**example()["answers"], **example()["context"]}]}
CORRECTION = {"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "Wrong row."}
DECISION = {"decision": "needs_more_information", "reason": "additional_information"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# operation -> (world, screening id or None) -> the request; screening routes get the id to aim at.
REQUESTS: dict[str, Callable[[World, str], Call]] = {
    "POST /v1/screenings": lambda w, _: Call("POST", "/v1/screenings", json=example()),
    "GET /v1/screenings": lambda w, _: Call("GET", "/v1/screenings"),
    "POST /v1/screenings:batch": lambda w, _: Call("POST", "/v1/screenings:batch", json={"cases": [_batch_case()]}),
    "GET /v1/screenings/{screening_id}": lambda w, sid: Call("GET", f"/v1/screenings/{sid}"),
    "POST /v1/screenings/{screening_id}/decision": lambda w, sid: Call(
        "POST", f"/v1/screenings/{sid}/decision", json=DECISION
    ),
    "POST /v1/screenings/{screening_id}/outcome": lambda w, sid: Call(
        "POST", f"/v1/screenings/{sid}/outcome", json={"outcome": "unknown"}
    ),
    "POST /v1/screenings/{screening_id}/corrections": lambda w, sid: Call(
        "POST", f"/v1/screenings/{sid}/corrections", json=CORRECTION
    ),
    "POST /invocations": lambda w, _: Call("POST", "/invocations", json=RECORD),
    "GET /v1/model": lambda w, _: Call("GET", "/v1/model"),
    "GET /v1/audit/report": lambda w, _: _report(w),
    "POST /v1/admin/reload": lambda w, _: Call("POST", "/v1/admin/reload"),
    "GET /v1/admin/keys": lambda w, _: Call("GET", "/v1/admin/keys"),
    "POST /v1/admin/keys": lambda w, _: Call("POST", "/v1/admin/keys", json={"role": "reviewer"}),
    "DELETE /v1/admin/keys/{key_id}": lambda w, _: _revoke(w),
    "POST /v1/admin/model:withdraw": lambda w, _: Call("POST", "/v1/admin/model:withdraw", json={"reason": "test"}),
    "POST /v1/admin/model:reinstate": lambda w, _: _reinstate(w),
    "GET /v1/questionnaire": lambda w, _: Call("GET", "/v1/questionnaire"),
    "GET /health": lambda w, _: Call("GET", "/health"),
    "GET /ping": lambda w, _: Call("GET", "/ping"),
    "GET /ready": lambda w, _: Call("GET", "/ready"),
    "GET /version": lambda w, _: Call("GET", "/version"),
}


@pytest.fixture
def model_box() -> ModelBox:
    """The served model with a fairness report in its run, so that the report route can succeed."""
    served = registered()
    info = {"model": {"name": served.name, "version": served.version}}
    report = FairnessReport(json=orjson.dumps(info), html=b"<!doctype html><title>r</title>")
    return ModelBox(current=dataclasses.replace(served, fairness_report=report))


def send(w: World, call: Call, who: str, *, override: bool = False) -> Any:
    headers = {**call.headers, **({} if who == NO_KEY else auth(w.keys, who))}
    body = call.json
    if override and isinstance(body, dict):
        body = {**body, "override_reason": "The screener has left the office."}
    return w.client.request(call.method, call.path, json=body, content=call.content, headers=headers)


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_each_role_gets_what_the_matrix_says(
    operation: str, who: str, client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    row = MATRIX.get(operation)
    assert row is not None, f"{operation} has no row in the README's matrix"
    build = REQUESTS.get(operation)
    assert build is not None, f"{operation} has no request in this test: add one"
    w = World(client, keys, db_url)
    cell = row[who]
    aims_at_screening = "{screening_id}" in operation
    mine = w.screening() if aims_at_screening else ""
    ok = success_status(operation)

    if cell == "—":
        response = send(w, build(w, mine), who)
        assert response.status_code == (401 if who == NO_KEY else 403), response.text
        return
    if cell in ("yes", "view"):
        response = send(w, build(w, mine), who)
        assert response.status_code == ok, response.text
        if cell == "view":
            assert response.json()["view"] == who
        return
    if cell == "override":
        assert aims_at_screening, f"{operation}: 'override' is for routes on one screening"
        without = send(w, build(w, mine), who)
        assert without.status_code == 422, without.text
        assert without.json()["error"]["code"] == "override_reason_required"
        response = send(w, build(w, mine), who, override=True)
        assert response.status_code == ok, response.text
        assert response.json()["override"] is True
        return
    assert cell == "own", cell
    if aims_at_screening:
        theirs = w.screening(w.other_screener())
        other = send(w, build(w, theirs), who)
        assert other.status_code == 404, f"another screener's screening: {other.status_code} {other.text}"
        unknown = send(w, build(w, UNKNOWN_ID), who)
        assert other.text.replace(theirs, "ID") == unknown.text.replace(UNKNOWN_ID, "ID"), "tells the two apart"
        response = send(w, build(w, mine), who)
        assert response.status_code == ok, response.text
    else:  # a list: only the caller's own screenings
        mine, theirs = w.screening(), w.screening(w.other_screener())
        response = send(w, build(w, mine), who)
        assert response.status_code == ok, response.text
        ids = {item["screening_id"] for item in response.json()["items"]}
        assert theirs not in ids
        assert mine in ids
