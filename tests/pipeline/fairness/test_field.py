"""`tarozu audit --from-log`: the field review of what the API logged (pipeline.fairness.field)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from pipeline.cli import main
from tests.support.api import auth, screen

DECISION_OF_STATUS = {"refer": "referred", "no_referral": "not_referred", "ask_more": "needs_more_information"}


def test_audit_from_log_reports_what_the_api_logged(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    for i in range(6):
        gender = "woman" if i % 2 else "man"
        body = screen(client, keys, monitoring={"gender": gender, "age_band": "24-26"})
        decision = DECISION_OF_STATUS[body["recommendation"]["status"]]  # follows the recommendation
        payload = {"decision": decision}
        assert (
            client.post(
                f"/v1/screenings/{body['screening_id']}/decision", json=payload, headers=auth(keys, "screener")
            ).status_code
            == 201
        )
    out = tmp_path / "report"
    assert main(["audit", "--from-log", "--database-url", db_url, "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["screenings"] == 6
    by_gender = {g["group"]: g for g in report["by_group"]["gender"]}
    assert {name: g["screenings"] for name, g in by_gender.items()} == {"man": 3, "woman": 3}
    assert all(g["decided"] == 3 for g in by_gender.values())
    assert report["overall"]["override_share"] == 0.0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script src" not in html


def test_audit_from_log_keeps_other_findings_apart_from_none_and_from_victims(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    # Referred people with outcomes: one victim, two findings that are not trafficking, one 'none'.
    for outcome in ("labour", "labour_rights_violation", "other_vulnerability", "none"):
        sid = screen(client, keys)["screening_id"]
        decision = {"decision": "referred", "reason": "screener_judgement"}
        assert client.post(f"/v1/screenings/{sid}/decision", json=decision, headers=auth(keys, "screener")).is_success
        url = f"/v1/screenings/{sid}/outcome"
        assert client.post(url, json={"outcome": outcome}, headers=auth(keys, "specialist")).status_code == 201
    out = tmp_path / "report"
    assert main(["audit", "--from-log", "--database-url", db_url, "--out", str(out)]) == 0
    overall = json.loads((out / "report.json").read_text(encoding="utf-8"))["overall"]
    assert overall["confirmation_rate"] == 0.25  # the labour outcome only
    assert overall["other_finding_rate"] == 0.5  # the two other findings, not counted as 'none'


def test_a_specialist_outcome_outside_the_list_is_refused(client: TestClient, keys: dict[str, str]) -> None:
    sid = screen(client, keys)["screening_id"]
    url = f"/v1/screenings/{sid}/outcome"
    response = client.post(url, json={"outcome": "labour_rights"}, headers=auth(keys, "specialist"))
    assert response.status_code == 422
    assert "labour_rights_violation" in response.json()["error"]["allowed"]
