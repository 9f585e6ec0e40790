"""`tarozu export --from-log`: screenings with outcomes become anonymised training data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.cli import main
from pipeline.data.schema import load_dataset
from serving.auditlog.writer import DECISION_OF_STATUS
from tests.support.api import auth, screen


def test_export_writes_only_cases_with_outcomes_and_reports_selective_labels(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = ["labour", "none", "sexual", None, None]
    for i, outcome in enumerate(outcomes):
        body = screen(client, keys, case_ref=f"CASE-{i}-SECRET")
        sid = body["screening_id"]
        decision = "referred" if outcome else "not_referred"
        payload = {"decision": decision}
        if decision != DECISION_OF_STATUS[body["recommendation"]["status"]]:
            payload.update(reason="screener_judgement")
        assert (
            client.post(f"/v1/screenings/{sid}/decision", json=payload, headers=auth(keys, "screener")).status_code
            == 201
        )
        if outcome:
            url = f"/v1/screenings/{sid}/outcome"
            assert client.post(url, json={"outcome": outcome}, headers=auth(keys, "specialist")).status_code == 201
    out = tmp_path / "field.csv"
    assert main(["export", "--from-log", "--database-url", db_url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 have a known outcome, 0 of them from the random follow-up" in printed
    text = out.read_text(encoding="utf-8")
    assert "SECRET" not in text
    assert "screening_id" not in text
    dataset = load_dataset(out)
    assert dataset.source == "field"
    assert len(dataset.frame) == 3
    assert sorted(zip(dataset.frame["is_labour"], dataset.frame["is_sexual"], strict=True)) == [(0, 0), (0, 1), (1, 0)]
    report = json.loads(Path(f"{out}.report.json").read_text(encoding="utf-8"))
    assert report["counts"] == {
        "screened": 5,
        "referred": 3,
        "with_outcome": 3,
        "unreferred": 2,
        "follow_up": 0,
        "follow_up_rate": 0.05,
        "outcomes": {
            "labour": 1,
            "sexual": 1,
            "both": 0,
            "labour_rights_violation": 0,
            "other_vulnerability": 0,
            "none": 1,
        },
    }
    assert report["other_findings"] is None
    assert report["anonymity"]["k"] >= 1


def test_export_keeps_other_findings_apart_from_none(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The last outcome counts: 'none' corrected to a labour-rights violation is one, not a 'none'.
    histories = [["labour_rights_violation"], ["none", "labour_rights_violation"], ["other_vulnerability"], ["none"]]
    for history in histories:
        sid = screen(client, keys)["screening_id"]
        for outcome in history:
            url = f"/v1/screenings/{sid}/outcome"
            assert client.post(url, json={"outcome": outcome}, headers=auth(keys, "specialist")).status_code == 201
    out = tmp_path / "field.csv"
    assert main(["export", "--from-log", "--database-url", db_url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 had a finding other than trafficking (labour_rights_violation 2, other_vulnerability 1)" in printed
    frame = load_dataset(out).frame
    # Not trafficking: labelled 0 for both outcomes, like 'none' ...
    assert list(zip(frame["is_labour"], frame["is_sexual"], strict=True)) == [(0, 0)] * 4
    # ... and counted apart from it.
    report = json.loads(Path(f"{out}.report.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in report["counts"]["outcomes"].items() if v} == {
        "labour_rights_violation": 2,
        "other_vulnerability": 1,
        "none": 1,
    }
    assert "labour_rights_violation 2" in report["other_findings"]


def test_export_with_no_outcomes_is_a_clear_error(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    screen(client, keys)
    assert main(["export", "--from-log", "--database-url", db_url, "--out", str(tmp_path / "x.csv")]) == 2
    assert "no screening with a known specialist outcome" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_export_counts_outcomes_of_the_random_follow_up_of_unreferred_people(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreferred person with an outcome counts as follow-up only when the sample (by id) holds them."""
    from pipeline.fairness.field import in_follow_up_sample

    rate = 0.5
    sampled = screened = 0
    while screened < 40 and not 0 < sampled < screened:  # some in the sample and some out, ids being random
        screened += 1
        body = screen(client, keys)
        sid = body["screening_id"]
        payload: dict[str, str] = {"decision": "not_referred"}
        if DECISION_OF_STATUS[body["recommendation"]["status"]] != "not_referred":
            payload["reason"] = "screener_judgement"
        assert (
            client.post(f"/v1/screenings/{sid}/decision", json=payload, headers=auth(keys, "screener")).status_code
            == 201
        )
        url = f"/v1/screenings/{sid}/outcome"
        assert client.post(url, json={"outcome": "none"}, headers=auth(keys, "specialist")).status_code == 201
        sampled += in_follow_up_sample(sid, rate)
    out = tmp_path / "field.csv"
    args = ["export", "--from-log", "--database-url", db_url, "--out", str(out), "--follow-up-rate", str(rate)]
    assert main(args) == 0
    report = json.loads(Path(f"{out}.report.json").read_text(encoding="utf-8"))
    assert 0 < sampled < screened
    assert report["counts"]["follow_up"] == sampled
    assert f"{sampled} of them from the random follow-up" in capsys.readouterr().out


@pytest.mark.parametrize("rate", ["0", "1.5", "-0.1"])
def test_a_follow_up_rate_that_is_not_a_share_is_refused_before_reading_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rate: str
) -> None:
    out = tmp_path / "field.csv"
    missing = f"sqlite:///{tmp_path / 'no-such.db'}"
    args = ["export", "--from-log", "--database-url", missing, "--out", str(out), "--follow-up-rate", rate]
    assert main(args) == 2
    assert "--follow-up-rate must be above 0 and at most 1" in capsys.readouterr().err
    assert not out.exists()
    assert not (tmp_path / "no-such.db").exists()
