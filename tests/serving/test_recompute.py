"""``audit-log verify --recompute``: logged screenings are re-scored with their logged model version
and their response hashes proven; an edited input, an edited output and a swapped model version are
each named by screening id, and rows logged before response hashes are not failures."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from models.engine import ScreeningEngine
from pipeline.cli import main
from serving.auditlog.database import make_engine
from serving.auditlog.recompute import NOT_RECOMPUTABLE, RecomputeReport, rebuild, response_sha256, verify_recompute
from tests.support.api import auth, example, registered, screen


class DictSource:
    """Model versions held in memory: what the registry would return for each version."""

    def __init__(self, versions: dict[str, Any]) -> None:
        self.engines = {v: ScreeningEngine(r.model) for v, r in versions.items()}

    def load(self, name: str, version: str) -> ScreeningEngine:
        if version not in self.engines:
            raise LookupError(f"no version {version}")
        return self.engines[version]

    def versions(self, name: str) -> list[str]:
        return sorted(self.engines)


def source() -> DictSource:
    return DictSource({"1": registered("1"), "2": registered("2", seed=1)})


def sql(db_url: str, statement: str, *params: Any) -> list[Any]:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(statement, params).fetchall()


def recompute(db_url: str, **kwargs: Any) -> RecomputeReport:
    engine = make_engine(db_url)
    try:
        return verify_recompute(engine, source(), **kwargs)
    finally:
        engine.dispose()


@pytest.fixture
def logged(client: TestClient, keys: dict[str, str], db_url: str) -> list[str]:
    """Four screenings: without probabilities, in Russian with danger, with probabilities (as when
    TAROZU_SHOW_PROBABILITIES_TO_SCREENERS is set), and one corrected afterwards."""
    ids = [
        screen(client, keys)["screening_id"],
        screen(client, keys, lang="ru", danger="yes")["screening_id"],
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("serving.usecases.shows_probabilities", lambda _principal, _services: True)
        shown = screen(client, keys)
    assert "probability" in shown["outcomes"]["labour"]
    ids.append(shown["screening_id"])
    ids.append(screen(client, keys)["screening_id"])
    corrected = client.post(
        f"/v1/screenings/{ids[3]}/corrections",
        json={"field": "isolation", "old_value": "not_asked", "new_value": "yes", "reason": "typo"},
        headers=auth(keys, "screener"),
    )
    assert corrected.status_code == 201, corrected.text
    return ids


def test_a_fresh_log_recomputes_with_its_corrections(logged: list[str], db_url: str) -> None:
    report = recompute(db_url)
    assert report.ok, [str(m) for m in report.mismatches]
    assert (report.checked, report.not_recomputable) == (4, 0)
    assert recompute(db_url, sample=2).checked == 2
    shown = sql(db_url, "SELECT response_probabilities FROM screenings ORDER BY seq")
    assert shown == [(0,), (0,), (1,), (0,)]


def test_the_exact_response_is_rebuilt_from_the_row(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    response = client.post("/v1/screenings", json=example(lang="tg"), headers=auth(keys, "screener"))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            from sqlalchemy import select

            from serving.auditlog.database import screenings

            row = conn.execute(select(screenings)).one()
    finally:
        engine.dispose()
    _, rendered = rebuild(ScreeningEngine(registered("1").model), row)
    envelope = orjson.dumps(
        {
            "screening_id": row.screening_id,
            "created_at": row.created_at,
            "model": {"name": row.model_name, "version": row.model_version},
        }
    )
    assert response.content == envelope[:-1] + b"," + rendered[1:]
    assert row.response_sha256 == response_sha256(rendered)


def _answers_with(db_url: str, screening_id: str, **changes: str) -> None:
    [(answers,)] = sql(db_url, "SELECT answers FROM screenings WHERE screening_id = ?", screening_id)
    edited = {**orjson.loads(answers), **changes}
    sql(db_url, "UPDATE screenings SET answers = ? WHERE screening_id = ?", orjson.dumps(edited).decode(), screening_id)


def _only_mismatch(report: RecomputeReport, screening_id: str, kind: str) -> str:
    assert [(m.screening_id, m.kind) for m in report.mismatches] == [(screening_id, kind)]
    return str(report.mismatches[0])


def test_an_edited_input_is_named(
    logged: list[str], db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.cli.audit_log.RegistrySource", lambda _uri: source())
    _answers_with(db_url, logged[1], debt_bondage="yes")
    text = _only_mismatch(recompute(db_url), logged[1], "input_edited")
    assert "result.outcomes.labour.log_odds" in text
    assert main(["audit-log", "verify", "--recompute", "--database-url", db_url]) == 1
    err = capsys.readouterr().err
    assert "NOT intact" in err  # the chain sees an edit too; recompute names what it was
    assert f"screening {logged[1]}" in err
    assert "input edited" in err


def test_an_edited_output_is_named(logged: list[str], db_url: str) -> None:
    [(result,)] = sql(db_url, "SELECT result FROM screenings WHERE screening_id = ?", logged[0])
    edited = orjson.loads(result)
    edited["outcomes"]["labour"]["band"] = "low" if edited["outcomes"]["labour"]["band"] != "low" else "high"
    sql(db_url, "UPDATE screenings SET result = ? WHERE screening_id = ?", orjson.dumps(edited).decode(), logged[0])
    text = _only_mismatch(recompute(db_url), logged[0], "output_edited")
    assert "result.outcomes.labour.band" in text


def test_an_edited_refer_column_is_an_edited_output(logged: list[str], db_url: str) -> None:
    sql(db_url, "UPDATE screenings SET refer = NOT refer WHERE screening_id = ?", logged[2])
    assert "refer" in _only_mismatch(recompute(db_url), logged[2], "output_edited")


def test_a_swapped_model_version_is_named(logged: list[str], db_url: str) -> None:
    sql(db_url, "UPDATE screenings SET model_version = '2' WHERE screening_id = ?", logged[2])
    text = _only_mismatch(recompute(db_url), logged[2], "model_version_swapped")
    assert "says version 2, but version 1 reproduces" in text


def test_an_edited_hash_or_setting_is_named(logged: list[str], db_url: str) -> None:
    sql(
        db_url,
        "UPDATE screenings SET response_probabilities = NOT response_probabilities WHERE screening_id = ?",
        logged[0],
    )
    _only_mismatch(recompute(db_url), logged[0], "response_edited")


def test_a_version_missing_from_the_registry_fails(logged: list[str], db_url: str) -> None:
    sql(db_url, "UPDATE screenings SET model_version = '9' WHERE screening_id = ?", logged[0])
    assert "could not be loaded" in _only_mismatch(recompute(db_url), logged[0], "model_unavailable")


def test_rows_logged_before_response_hashes_are_not_failures(
    logged: list[str], db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql(db_url, "UPDATE screenings SET response_sha256 = NULL, response_probabilities = NULL WHERE seq <= 2")
    report = recompute(db_url)
    assert report.ok
    assert (report.checked, report.not_recomputable) == (2, 2)
    monkeypatch.setattr("pipeline.cli.audit_log.RegistrySource", lambda _uri: source())
    assert main(["audit-log", "verify", "--recompute", "--database-url", db_url]) == 1  # the chain saw the edit
    out = capsys.readouterr().out
    assert f"2 screenings {NOT_RECOMPUTABLE}" in out
    assert "recompute: 2 of 2 screenings reproduce" in out


@pytest.mark.slow
def test_cli_loads_the_logged_versions_from_the_mlflow_registry(
    logged: list[str], db_url: str, mlflow_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    from pipeline import registration

    experiment = registration.ensure_experiment("recompute-test")
    for name in ("1", "2"):
        with mlflow.start_run(experiment_id=experiment):
            version, _ = registration.log_screening_model(source_model(name), registered_name=registered("1").name)
        assert version == name
    assert main(["audit-log", "verify", "--recompute", "--database-url", db_url]) == 0
    assert "recompute: 4 of 4 screenings reproduce" in capsys.readouterr().out
    sql(db_url, "UPDATE screenings SET model_version = '2' WHERE screening_id = ?", logged[1])
    assert main(["audit-log", "verify", "--recompute", "--sample", "4", "--database-url", db_url]) == 1
    err = capsys.readouterr().err
    assert f"screening {logged[1]}" in err
    assert "version 1 reproduces" in err


def source_model(version: str) -> Any:
    return registered("1").model if version == "1" else registered("2", seed=1).model


def _as_rule_1(db_url: str, screening_id: str) -> None:
    """Rewrite a logged row as it was logged before outlook rule 2: its outputs and response hash given by
    rule 1, and no ``outlook_rule`` in its result."""
    from sqlalchemy import select

    from models.engine import Interview
    from serving.auditlog.database import screenings

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(screenings).where(screenings.c.screening_id == screening_id)).one()
    finally:
        engine.dispose()
    scorer = ScreeningEngine(registered("1").model)
    logged = orjson.loads(row.result)
    values = {**orjson.loads(row.answers), **orjson.loads(row.context), **orjson.loads(row.audit)}
    interview = Interview(danger=logged["danger"], screener_assessment=row.screener_assessment)
    old = scorer.assess(scorer.encode(values), interview, rule=1)
    new = scorer.assess(scorer.encode(values), interview)
    assert (old.flip_chance, old.outcomes["labour"].range) != (new.flip_chance, new.outcomes["labour"].range)
    rendered = scorer.render(old, lang=row.lang, probabilities=bool(row.response_probabilities), explain="compact")
    outputs = {k: v for k, v in old.outputs().items() if k != "outlook_rule"}
    result = {**outputs, **{k: logged[k] for k in ("consent", "danger", "not_asked_reasons")}}
    sql(
        db_url,
        "UPDATE screenings SET result = ?, refer = ?, response_sha256 = ? WHERE screening_id = ?",
        orjson.dumps(result).decode(),
        old.refer,
        response_sha256(rendered),
        screening_id,
    )


def test_rows_given_outlook_rule_1_recompute_with_rule_1(logged: list[str], db_url: str) -> None:
    """Screenings logged before rule 2 (no ``outlook_rule``) are proven with rule 1, new ones with the
    rule they name."""
    [(result,)] = sql(db_url, "SELECT result FROM screenings WHERE screening_id = ?", logged[0])
    assert orjson.loads(result)["outlook_rule"] == 2
    _as_rule_1(db_url, logged[0])
    report = recompute(db_url)
    assert report.ok, [str(m) for m in report.mismatches]
    assert report.checked == 4


def test_an_edited_outlook_rule_is_named(logged: list[str], db_url: str) -> None:
    for screening_id, rule in ((logged[0], 7), (logged[2], 1)):
        [(result,)] = sql(db_url, "SELECT result FROM screenings WHERE screening_id = ?", screening_id)
        edited = {**orjson.loads(result), "outlook_rule": rule}
        edit = "UPDATE screenings SET result = ? WHERE screening_id = ?"
        sql(db_url, edit, orjson.dumps(edited).decode(), screening_id)
    report = recompute(db_url)
    assert [m.screening_id for m in report.mismatches] == [logged[0], logged[2]]
    assert report.mismatches[0].kind == "output_edited"
    assert "outlook rule 7 is not one of (1, 2)" in str(report.mismatches[0])


def test_rows_are_recomputed_a_chunk_at_a_time_with_the_same_verdicts(
    logged: list[str], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of two outlook rules and two model versions, read three at a time: each chunk's rows of one
    version and rule are assessed together, and every verdict is the one each row gets alone."""
    _as_rule_1(db_url, logged[0])
    sql(db_url, "UPDATE screenings SET model_version = '2' WHERE screening_id = ?", logged[2])
    _answers_with(db_url, logged[3], debt_bondage="yes")
    whole = recompute(db_url)
    monkeypatch.setattr("serving.auditlog.recompute.RECOMPUTE_ROWS", 3)
    reported: list[int] = []
    chunked = recompute(db_url, progress=reported.append)
    expected = [(logged[2], "model_version_swapped"), (logged[3], "input_edited")]
    for report in (whole, chunked):
        assert [(m.screening_id, m.kind) for m in report.mismatches] == expected
        assert report.checked == 4
    assert [str(m) for m in chunked.mismatches] == [str(m) for m in whole.mismatches]
    assert reported == [3, 4]


def test_an_unreadable_row_is_named_and_the_others_still_checked(logged: list[str], db_url: str) -> None:
    _answers_with(db_url, logged[1], debt_bondage="sometimes")  # not an answer the question has
    sql(db_url, "UPDATE screenings SET result = ? WHERE screening_id = ?", "{not json", logged[3])
    report = recompute(db_url)
    assert report.checked == 4
    assert [(m.screening_id, m.kind) for m in report.mismatches] == [
        (logged[1], "input_edited"),
        (logged[3], "output_edited"),
    ]
    assert "cannot be read" in str(report.mismatches[0])
    assert "debt_bondage" in str(report.mismatches[0])
    assert "the logged result was edited" in str(report.mismatches[1])
