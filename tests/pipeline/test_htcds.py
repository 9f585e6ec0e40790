"""`tarozu export --format htcds`: referred cases with outcomes as HTCDS fields and values."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.questionnaire import ANSWERS, YES, load_questionnaire
from pipeline import htcds
from pipeline.cli import main
from pipeline.errors import CommandError
from serving.auditlog.writer import DECISION_OF_STATUS
from tests.support.api import TEST_SECRET, auth, screen

# From UNMigration/HTCDS, `HTCDS Field Reference.md` at commit
# af4f8478d0c451c7a9c363fde761a4677694ebb5: the fields the export may write and the value names
# of their picklists (None: a text field). Country fields take ISO 3166 two-letter codes.
REFERENCE: dict[str, tuple[str, ...] | None] = {
    "prs_Gender": ("Male", "Female", "Transgender/NonConforming", "Unknown"),
    "prs_Nationality": None,
    "vic_MethodOfRecruitment": (
        "Abduction", "Educational Facility", "Familial", "Internet (social media, online advertisement)",
        "International Marriage Broker (IMB)", "Intimate partner/marriage proposition", "Job offer/advertisement",
        "Posing as Benefactor", "Public Area", "Offer of Accommodation", "Shelter", "Smuggling, ransom", "Work",
        "Other", "Unknown",
    ),
    "vic_MethodsOfControl": (
        "DebtBondage", "TakesEarnings", "RestrictsFinancialAccess", "Threats", "PsychologicalAbuse",
        "PhysicalAbuse", "SexualAbuse", "FalsePromises", "PsychoactiveSubstances", "RestrictsMovement",
        "RestrictsMedicalCare", "ExcessiveWorkingHours", "UsesChildren", "ThreatOfLawEnforcement",
        "WithholdsNecessities", "WithholdsDocuments", "Other",
    ),
    "vic_TypeOfExploitation": (
        "Forced labour", "Sexual exploitation", "Forced marriage", "Forced military service",
        "Slavery and similar practices", "Organ removal", "Begging", "Illicit activities", "Other",
    ),
    "vic_Labour Industry": (
        "A_AgricultureForestryAndFishing", "B_MiningAndQuarrying", "C_Manufacturing",
        "D_ElectricityGasSteamAndAirConditioningSupply", "E_WaterSupplySewerageWasteManagement", "F_Construction",
        "G_WholesaleAndRetailTradeRepairOfMotorVehicles", "H_TransportationAndStorage",
        "I_AccommodationAndFoodServiceActivities", "J_InformationAndCommunication",
        "K_FinancialAndInsuranceActivities", "L_RealEstateActivities",
        "M_ProfessionalScientificAndTechnicalActivities", "N_AdministrativeAndSupportServiceActivities",
        "O_PublicAdministrationAndDefence", "P_Education", "Q_HumanHealthAndSocialWorkActivities",
        "R_ArtsEntertainmentAndRecreation", "S_OtherServiceActivities", "T_ActivitiesOfHouseholdsAsEmployers",
        "U_ActivitiesOfExtraterritorialOrganizations",
    ),
    "per_RoleInProcess": (
        "TravellingPartner", "Transporter", "RecruiterOrIntermediary", "BrokerTravelAgent", "TransferredIndividual",
        "HarbouredIndividual", "SoldIndividual", "BoughtIndividual", "ReceivedIndividual", "ControlledIndividual",
        "Smuggler", "Abuser", "Kidnapper", "Exploiter", "Other",
    ),
    "hte_Type": ("Recruitment", "Transit", "Exploitation"),
    "hte_Country": None,
}  # fmt: skip
MULTI_SELECT = {"vic_MethodOfRecruitment", "vic_MethodsOfControl", "vic_TypeOfExploitation", "vic_Labour Industry",
                "per_RoleInProcess"}  # fmt: skip
ISO_ALPHA2 = {"TJ", "UZ", "KG", "AF", "RU", "KZ", "TR", "AE", "SA", "GE", "IN"}


def flat(answers: dict[str, str] | None = None, **values: Any) -> dict[str, Any]:
    """A screening's flat values: every question not asked, context and audit as given."""
    q = load_questionnaire()
    out: dict[str, Any] = {f.id: f.reference for f in q.all_fields}
    out.update(answers or {})
    out.update(values)
    return out


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def every_case() -> list[dict[str, list[str]]]:
    """Rows covering every value of every mapped field, every outcome and every answer."""
    q = load_questionnaire()
    rows = []
    for answer in ANSWERS:
        answers = {f.id: answer for f in q.indicators}
        for outcome in ("labour", "sexual", "both", "none"):
            for status in ("returnee", "prospective", "family_member", "unknown"):
                for field in ("destination", "sector", "recruiter_relation", "job_found_via", "gender", "citizenship"):
                    for level in q.field(field).levels:
                        values = {"migrant_status": status, field: level}
                        rows.append(htcds.case_row(flat(answers, **values), outcome))
    return rows


def test_columns_and_values_are_the_reference_s() -> None:
    rows = every_case()
    names = [c.name for c in htcds.columns()]
    assert set(names) <= set(REFERENCE)
    assert {c.name for c in htcds.columns() if c.multi} <= MULTI_SELECT
    assert htcds.REFERENCE_FIELDS.count("vic_MethodsOfControl") == 1
    seen: dict[str, set[str]] = {n: set() for n in names}
    for row in rows:
        assert list(row) == names
        for name, values in row.items():
            assert name in MULTI_SELECT or len(values) <= 1, (name, values)
            assert len(values) == len(set(values))
            allowed = REFERENCE[name]
            for value in values:
                assert value in (allowed or ISO_ALPHA2), (name, value)
            seen[name].update(values)
    # Every value the questionnaire's htcds keys name is in the reference, and all of them occur.
    q = load_questionnaire()
    named = {
        f.htcds.removeprefix("MethodsOfControl") for f in q.indicators if f.htcds and "MethodsOfControl" in f.htcds
    }
    assert named
    assert named == seen["vic_MethodsOfControl"]
    assert seen["vic_TypeOfExploitation"] == {"Forced labour", "Sexual exploitation", "Begging", "Illicit activities"}
    assert seen["prs_Gender"] == {"Male", "Female", "Transgender/NonConforming", "Unknown"}
    assert seen["hte_Type"] == {"Exploitation"}


def test_values_of_one_case() -> None:
    values = flat(
        {"documents_withheld": "yes", "debt_bondage": "no", "excessive_hours": "yes"},
        migrant_status="returnee", destination="RUS", sector="construction", recruiter_relation="family",
        job_found_via="online", gender="woman", citizenship="TJK", age_band="24-26",
    )  # fmt: skip
    row = htcds.case_row(values, "both")
    assert row["prs_Gender"] == ["Female"]
    assert row["prs_Nationality"] == ["TJ"]
    assert row["vic_MethodsOfControl"] == ["ExcessiveWorkingHours", "WithholdsDocuments"]
    assert row["vic_TypeOfExploitation"] == ["Forced labour", "Sexual exploitation"]
    assert row["vic_Labour Industry"] == ["F_Construction"]
    assert row["vic_MethodOfRecruitment"] == ["Familial", "Internet (social media, online advertisement)"]
    assert (row["hte_Type"], row["hte_Country"]) == (["Exploitation"], ["RU"])
    # A prospective migrant has not worked there: no place or industry of exploitation.
    planned = htcds.case_row({**values, "migrant_status": "prospective"}, "labour")
    assert planned["hte_Country"] == planned["hte_Type"] == planned["vic_Labour Industry"] == []
    # Nothing recorded: Unknown where HTCDS has it, empty where it has not.
    blank = htcds.case_row(flat(), "none")
    assert blank["prs_Gender"] == ["Unknown"]
    assert blank["vic_MethodOfRecruitment"] == ["Unknown"]
    assert blank["prs_Nationality"] == blank["vic_TypeOfExploitation"] == blank["vic_MethodsOfControl"] == []


def test_two_questions_of_one_method_of_control_give_it_once(tmp_path: Path) -> None:
    shared = {v: ids for v, ids in htcds.methods_of_control().items() if len(ids) >= 2}
    assert "WithholdsDocuments" in shared  # documents taken at recruitment and withheld at destination
    for value, ids in shared.items():
        row = htcds.case_row(flat(dict.fromkeys(ids, YES)), "labour")
        assert row["vic_MethodsOfControl"] == [value]
    ids = shared["WithholdsDocuments"]
    out = htcds.write_cases([htcds.case_row(flat(dict.fromkeys(ids, YES)), "labour")], tmp_path / "c.csv")
    assert csv_rows(out)[0]["vic_MethodsOfControl"] == "WithholdsDocuments"


@pytest.mark.parametrize("answer", ["not_asked", "declined", "dont_know", "no"])
def test_answers_other_than_yes_never_select_a_method_of_control(answer: str) -> None:
    q = load_questionnaire()
    row = htcds.case_row(flat({f.id: answer for f in q.indicators}), "labour")
    assert row["vic_MethodsOfControl"] == []
    assert not any(v in row.get("per_RoleInProcess", []) for v in htcds.PICKLISTS["per_RoleInProcess"])
    assert "Abduction" not in row["vic_MethodOfRecruitment"]


def test_multi_select_values_are_joined_with_semicolons_and_json_keeps_lists(tmp_path: Path) -> None:
    q = load_questionnaire()
    row = htcds.case_row(flat({f.id: YES for f in q.indicators}, gender="man"), "both")
    (written,) = csv_rows(htcds.write_cases([row], tmp_path / "c.csv"))
    assert written["vic_MethodsOfControl"].split(";") == row["vic_MethodsOfControl"]
    assert written["vic_TypeOfExploitation"] == "Forced labour;Sexual exploitation"
    (record,) = json.loads(htcds.write_cases([row], tmp_path / "c.json").read_text(encoding="utf-8"))
    assert record["vic_MethodsOfControl"] == row["vic_MethodsOfControl"]
    assert record["prs_Gender"] == "Male"
    assert record["prs_Nationality"] is None
    with pytest.raises(CommandError, match=r"\.csv or \.json"):
        htcds.write_cases([row], tmp_path / "c.xlsx")


def test_a_key_that_is_not_a_value_of_the_reference_is_an_error() -> None:
    q = load_questionnaire()
    first = q.indicators[0]
    typo = dataclasses.replace(first, htcds="MethodsOfControlDebtBondag")
    broken = dataclasses.replace(q, indicators=(typo, *q.indicators[1:]))
    with pytest.raises(CommandError, match="DebtBondag"):
        htcds.methods_of_control(broken)


def test_docs_table_is_the_generated_one() -> None:
    text = htcds.DOC_PATH.read_text(encoding="utf-8")
    assert htcds.documented_block(text) == htcds.mapping_markdown(), (
        "docs/htcds.md is out of date with the questionnaire: run `python -m pipeline.htcds --write-docs`"
    )
    assert htcds.REFERENCE_COMMIT in text
    assert "CC BY 4.0" in text


def _decide(client: TestClient, keys: dict[str, str], body: dict[str, Any], decision: str) -> None:
    payload = {"decision": decision}
    if decision != DECISION_OF_STATUS[body["recommendation"]["status"]]:
        payload.update(reason="screener_judgement")
    url = f"/v1/screenings/{body['screening_id']}/decision"
    assert client.post(url, json=payload, headers=auth(keys, "screener")).status_code == 201


def _outcome(client: TestClient, keys: dict[str, str], body: dict[str, Any], outcome: str) -> None:
    url = f"/v1/screenings/{body['screening_id']}/outcome"
    assert client.post(url, json={"outcome": outcome}, headers=auth(keys, "specialist")).status_code == 201


def test_export_writes_only_referred_cases_with_outcomes_and_no_identifiers(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from serving.auditlog.database import make_engine
    from serving.auditlog.queries import case_ref_hmac, get_screening

    # (decision, outcomes recorded): only the first two are referred with a known outcome.
    cases = [
        ("referred", ["labour"]),
        ("referred", ["unknown", "both"]),
        ("referred", ["unknown"]),
        ("referred", []),
        ("not_referred", ["sexual"]),
        ("needs_more_information", []),
        ("referred", ["labour", "labour_rights_violation"]),  # the later finding: not trafficking
        ("referred", ["other_vulnerability"]),
    ]
    bodies = []
    for i, (decision, outcomes) in enumerate(cases):
        body = screen(client, keys, case_ref=f"CASE-{i}-SECRET")
        _decide(client, keys, body, decision)
        for outcome in outcomes:
            _outcome(client, keys, body, outcome)
        bodies.append(body)
    out = tmp_path / "cases.csv"
    assert main(["export", "--from-log", "--format", "htcds", "--database-url", db_url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote 2 HTCDS case rows" in printed
    assert "8 screened, 6 referred, 2 referred without a known specialist outcome" in printed
    assert "2 referred with a finding other than trafficking" in printed
    assert "HTCDS fields with no Tarozu source (" in printed
    assert "prs_FirstName" in printed
    assert "Tarozu fields with no HTCDS field (" in printed
    assert "age_band" in printed

    rows = csv_rows(out)
    assert [r["vic_TypeOfExploitation"] for r in rows] == ["Forced labour", "Forced labour;Sexual exploitation"]
    # The documented example: documents withheld and excessive hours, a man from Tajikistan in Russia.
    assert {r["vic_MethodsOfControl"] for r in rows} == {"ExcessiveWorkingHours;WithholdsDocuments"}
    assert {(r["prs_Gender"], r["prs_Nationality"], r["hte_Country"]) for r in rows} == {("Male", "TJ", "RU")}
    assert list(rows[0]) == [c.name for c in htcds.columns()]

    assert (
        main(["export", "--from-log", "--format", "htcds", "--database-url", db_url, "--out", str(tmp_path / "c.json")])
        == 0
    )
    engine = make_engine(db_url)
    try:
        logged = [get_screening(engine, b["screening_id"]) for b in bodies]
    finally:
        engine.dispose()
    secrets = {b["screening_id"] for b in bodies} | {s["key_id"] for s in logged}
    secrets |= {o["key_id"] for s in logged for o in s["outcomes"]}
    secrets |= {case_ref_hmac(TEST_SECRET.encode(), f"CASE-{i}-SECRET") or "" for i in range(len(cases))}
    for path in (out, tmp_path / "c.json"):
        text = path.read_text(encoding="utf-8")
        assert "SECRET" not in text
        assert not {s for s in secrets if s and s in text}
        for name in ("screening_id", "key_id", "case_ref"):
            assert name not in text


def test_no_referred_case_with_an_outcome_is_a_clear_error(
    client: TestClient, keys: dict[str, str], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = screen(client, keys)
    _decide(client, keys, body, "not_referred")
    _outcome(client, keys, body, "labour")
    out = tmp_path / "x.csv"
    assert main(["export", "--from-log", "--format", "htcds", "--database-url", db_url, "--out", str(out)]) == 2
    assert "no referred screening with a known specialist outcome" in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_format_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["export", "--from-log", "--format", "xml", "--out", str(tmp_path / "x.csv")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --format: invalid choice: 'xml'" in err
    assert "'tarozu', 'htcds'" in err
