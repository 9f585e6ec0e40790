"""The two forms of a result and the explanation read back.

``POST /v1/screenings`` answers in the compact form by default (each outcome's top reasons) and in
the full form with ``?explain=full`` (every contribution, with the base value they add up from); the
two agree on everything they share, and so do the batch's. The audit row keeps the inputs and
outputs, not the contributions: ``GET /v1/screenings/{id}`` recomputes them with the logged model
version (the served one, or that version from the registry) and says when it cannot.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from models.engine import TOP_REASONS, Interview, ScreeningEngine
from models.logodds import logit
from serving.usecases import _registry_scorer
from tests.support.api import auth, example, registered

URL = "/v1/screenings"
SHOW = [{"show_probabilities_to_screeners": True}]
MANY = {  # enough evidence for more contributions than the compact form lists
    "documents_withheld": "yes",
    "debt_bondage": "no",
    "excessive_hours": "yes",
    "threats": "dont_know",
    "isolation": "yes",
    "physical_violence": "no",
    "wages_withheld": "yes",
}


def post(client: TestClient, keys: dict[str, str], query: str = "", *, role: str = "screener", **changes: Any) -> Any:
    response = client.post(URL + query, json=example(**changes), headers=auth(keys, role))
    assert response.status_code == 201, response.text
    return response.json()


def _shared(compact: dict[str, Any], full: dict[str, Any]) -> None:
    """Everything but the ids is the same, except each outcome's reasons (compact) and explanation (full);
    the reasons are the first of the full form's contributions, in the same order."""
    assert set(compact) == set(full)
    for key in set(compact) - {"screening_id", "created_at", "outcomes"}:
        assert compact[key] == full[key], key
    for name, short in compact["outcomes"].items():
        long = full["outcomes"][name]
        assert {k: v for k, v in short.items() if k != "reasons"} == {
            k: v for k, v in long.items() if k != "explanation"
        }
        contributions = long["explanation"]["contributions"]
        assert short["reasons"] == contributions[:TOP_REASONS]
        assert len(short["reasons"]) == min(TOP_REASONS, len(contributions))


@pytest.mark.parametrize("settings_overrides", [{}, *SHOW])
def test_compact_and_full_agree_on_everything_they_share(client: TestClient, keys: dict[str, str]) -> None:
    case = {"answers": {**example()["answers"], **MANY}}
    compact, full = post(client, keys, **case), post(client, keys, "?explain=full", **case)
    explicit = post(client, keys, "?explain=compact", **case)
    assert "explanation" not in compact["outcomes"]["labour"]
    assert "reasons" not in full["outcomes"]["labour"]
    assert len(full["outcomes"]["labour"]["explanation"]["contributions"]) > TOP_REASONS  # the table is longer
    _shared(compact, full)
    _shared(explicit, full)


@pytest.mark.parametrize("settings_overrides", SHOW)
def test_the_full_form_adds_up_exactly(client: TestClient, keys: dict[str, str]) -> None:
    full = post(client, keys, "?explain=full", answers={**example()["answers"], **MANY})
    for outcome in full["outcomes"].values():
        e = outcome["explanation"]
        total = math.fsum([e["base_value"], *(c["contribution"] for c in e["contributions"])])
        assert abs(total - e["log_odds"]) <= 1e-12 * max(1.0, abs(e["log_odds"]))  # float rounding, no more
        assert abs(e["log_odds"] - logit(outcome["probability"])) <= 1e-9


def test_an_unknown_form_is_refused(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    response = client.post(URL + "?explain=everything", json=example(), headers=auth(keys, "screener"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "explain"
    assert error["allowed"] == "'compact' or 'full'"
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT count(*) FROM screenings").fetchone() == (0,)


def test_the_batch_is_compact_unless_asked(client: TestClient, keys: dict[str, str]) -> None:
    case = {
        k: v
        for k, v in example(answers={**example()["answers"], **MANY}).items()
        if k not in ("screener_assessment", "case_ref")
    }
    headers = auth(keys, "data-scientist")
    compact = client.post(URL + ":batch", json={"cases": [case, case]}, headers=headers)
    full = client.post(URL + ":batch", json={"cases": [case, case]}, headers=headers, params={"explain": "full"})
    assert compact.status_code == full.status_code == 201, compact.text
    for short, long in zip(compact.json()["results"], full.json()["results"], strict=True):
        assert short["row"] == long["row"]
        _shared({**short, "created_at": None}, {**long, "created_at": None})
        assert "probability" in long["outcomes"]["labour"]  # a data scientist sees them


# ---------------------------------------------------------------------------- reading it back
def _row(db_url: str, screening_id: str) -> sqlite3.Row:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.row_factory = sqlite3.Row
        row: sqlite3.Row = conn.execute("SELECT * FROM screenings WHERE screening_id = ?", (screening_id,)).fetchone()
    return row


def _contributions(body: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {
        name: {c["field"]: c["contribution"] for c in o["explanation"]["contributions"]}
        for name, o in body["outcomes"].items()
    }


def test_the_explanation_is_recomputed_when_read(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    full = post(client, keys, "?explain=full", answers={**example()["answers"], **MANY})
    row = _row(db_url, full["screening_id"])
    assert all("contributions" not in o for o in orjson.loads(row["result"])["outcomes"].values())
    assert row["response_explain"] == "full"
    for role in ("reviewer", "screener", "specialist"):
        record = client.get(f"{URL}/{full['screening_id']}", headers=auth(keys, role)).json()
        result = record["result"]
        assert result["contributions_recomputed"] is True
        assert {n: o["contributions"] for n, o in result["outcomes"].items()} == _contributions(full), role


def test_a_correction_does_not_change_the_explanation_given(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    full = post(client, keys, "?explain=full")
    corrected = client.post(
        f"{URL}/{full['screening_id']}/corrections",
        json={"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "typo"},
        headers=auth(keys, "screener"),
    )
    assert corrected.status_code == 201, corrected.text
    record = client.get(f"{URL}/{full['screening_id']}", headers=auth(keys, "reviewer")).json()
    assert record["current"]["answers"]["isolation"] == "yes"
    assert record["original"]["answers"]["isolation"] == "not_asked"
    assert {n: o["contributions"] for n, o in record["result"]["outcomes"].items()} == _contributions(full)


def test_another_logged_version_is_loaded_from_the_registry(
    client: TestClient, keys: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = post(client, keys)
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:  # as if version 2 had scored it
        conn.execute("UPDATE screenings SET model_version = '2'")
    loaded: list[tuple[str, str]] = []

    def load_version(*, name: str, version: str, tracking_uri: str | None = None) -> Any:
        loaded.append((name, version))
        return registered("2", seed=1)

    monkeypatch.setattr("serving.registry.load_version", load_version)
    _registry_scorer.cache_clear()
    record = client.get(f"{URL}/{body['screening_id']}", headers=auth(keys, "reviewer")).json()
    assert loaded == [("tarozu-screening", "2")]
    other = ScreeningEngine(registered("2", seed=1).model)
    case = example()
    expected = other.assess(other.encode({**case["answers"], **case["context"], **case["monitoring"]}), Interview())
    for name, outcome in record["result"]["outcomes"].items():
        assert outcome["contributions"] == expected.outcomes[name].contributions


def test_a_version_that_cannot_be_loaded_is_said(
    client: TestClient, keys: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = post(client, keys)
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE screenings SET model_version = '9'")

    def load_version(*, name: str, version: str, tracking_uri: str | None = None) -> Any:
        raise LookupError(f"no version {version} of the model {name!r}")

    monkeypatch.setattr("serving.registry.load_version", load_version)
    _registry_scorer.cache_clear()
    response = client.get(f"{URL}/{body['screening_id']}", headers=auth(keys, "reviewer"))
    assert response.status_code == 200
    result = response.json()["result"]
    assert all(o["contributions"] is None for o in result["outcomes"].values())
    assert "version 9 could not be loaded: no version 9" in result["contributions_unavailable"]
    assert result["outcomes"]["labour"]["band"] == body["outcomes"]["labour"]["band"]  # the outputs stay


# ---------------------------------------------------------------------------- recompute and older rows
class _Source:
    def __init__(self) -> None:
        self.engine = ScreeningEngine(registered().model)

    def load(self, name: str, version: str) -> ScreeningEngine:
        return self.engine

    def versions(self, name: str) -> list[str]:
        return ["1"]


def _recompute(db_url: str) -> Any:
    from serving.auditlog.database import make_engine
    from serving.auditlog.recompute import verify_recompute

    engine = make_engine(db_url)
    try:
        return verify_recompute(engine, _Source())
    finally:
        engine.dispose()


def test_an_edited_form_is_named(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    ids = [post(client, keys)["screening_id"], post(client, keys, "?explain=full")["screening_id"]]
    assert _recompute(db_url).ok
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE screenings SET response_explain = 'full' WHERE screening_id = ?", (ids[0],))
    assert [(m.screening_id, m.kind) for m in _recompute(db_url).mismatches] == [(ids[0], "response_edited")]


def test_a_row_logged_before_the_compact_form_still_recomputes_and_reads(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    """Rows of migrations 0006 to 0007: every field stored, the contributions in the result, the full form."""
    full = post(client, keys, "?explain=full")
    engine = ScreeningEngine(registered().model)
    row = _row(db_url, full["screening_id"])
    q = registered().model.encoder.fields
    # The monitoring fields are kept in the column "audit" (its first name: row hashes cover column names).
    stored = {
        section: {**{f.id: f.reference for f in q if f.kind == kind}, **orjson.loads(row[column])}
        for section, kind, column in (
            ("answers", "indicator", "answers"),
            ("context", "context", "context"),
            ("monitoring", "monitoring", "audit"),
        )
    }
    case = example()
    assessment = engine.assess(
        engine.encode({**stored["answers"], **stored["context"], **stored["monitoring"]}),
        Interview(danger=case["danger"], screener_assessment=case["screener_assessment"]),
    )
    result = {**orjson.loads(row["result"]), **assessment.compact()}
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            "UPDATE screenings SET response_explain = NULL, answers = ?, context = ?, audit = ?, result = ?",
            (
                *(orjson.dumps(stored[s]).decode() for s in ("answers", "context", "monitoring")),
                orjson.dumps(result).decode(),
            ),
        )
    report = _recompute(db_url)
    assert report.ok, [str(m) for m in report.mismatches]
    assert report.checked == 1
    record = client.get(f"{URL}/{full['screening_id']}", headers=auth(keys, "reviewer")).json()
    assert "contributions_recomputed" not in record["result"]  # as logged
    assert {n: o["contributions"] for n, o in record["result"]["outcomes"].items()} == _contributions(full)
    assert record["original"]["answers"] == stored["answers"]
