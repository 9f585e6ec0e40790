"""``tarozu export --format htcds``: referred screenings with specialist outcomes as HTCDS case data.

IOM's Human Trafficking Case Data Standard (HTCDS, public repository ``UNMigration/HTCDS``,
CC BY 4.0 by IOM) names the fields and picklist values that case-management systems use. This
module writes one row per referred screening with a known specialist outcome, with HTCDS field
names as columns and values as the standard's field reference spells them, so that such a system
can import the cases Tarozu referred.

Where the mappings come from:

- ``vic_MethodsOfControl`` is derived from the questionnaire: every question whose ``htcds`` key
  names a ``MethodsOfControl<Value>`` field selects ``<Value>`` when the answer is ``yes``
  (``MethodOfRecruitment<Value>`` and ``RoleInProcess<Value>`` keys work the same way). No
  other answer (``no``, ``dont_know``, ``declined``, ``not_asked``) selects anything: HTCDS has
  no "no" value for a method of control, and an empty selection claims nothing.
- Context and audit fields map by hand below, each to the one HTCDS field that records the
  same fact; values HTCDS cannot express (``OTH``, ``friend``...) are left empty, never forced
  into ``Other``.
- The specialist outcome (labour, sexual, both, none) gives ``vic_TypeOfExploitation``. A finding
  that is not trafficking but not "none" either (a labour-rights violation, another
  vulnerability) has no value in HTCDS, whose records are trafficking cases: exported like
  ``none`` it would merge with it, so such cases are counted apart and not exported.

Nothing that identifies a case leaves the log: no screening id, case reference (kept only as
an HMAC), key id, date or time. HTCDS defines no anonymous record id, so none is invented.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.outcomes import NONE_OUTCOME, OTHER_FINDING_OUTCOMES, TRAFFICKING_OUTCOMES
from models.questionnaire import UNKNOWN, YES, Field, Questionnaire, load_questionnaire
from pipeline.errors import CommandError
from pipeline.export import screenings_with_outcomes
from serving.auditlog.queries import flat_values

# ------------------------------------------------------------------------------ the standard
STANDARD_REPOSITORY = "UNMigration/HTCDS"
REFERENCE_FILE = "HTCDS Field Reference.md"
REFERENCE_COMMIT = "af4f8478d0c451c7a9c363fde761a4677694ebb5"
DEFINITIONS_FILE = "Field Definitions.md"
DEFINITIONS_COMMIT = "26ef6a63eab9d7a2517f0d9fffb5f5c20d7544b1"
DELIMITER_FILE = "Toolkit/Excel/README.md"
DELIMITER_COMMIT = "17b177e442c0542b40aacc79018c456aa56bb64b"
MULTI_SELECT_DELIMITER = ";"
"""Toolkit/Excel/README.md: "multiple values can be selected in one field ... The semi-colon is
used as the delimeter"."""

DERIVED_FIELDS = {
    "MethodsOfControl": "vic_MethodsOfControl",
    "MethodOfRecruitment": "vic_MethodOfRecruitment",
    "RoleInProcess": "per_RoleInProcess",
}
"""A questionnaire ``htcds`` key ``<Field><Value>`` (``MethodsOfControlDebtBondage``) names a value of
one of these multi-select fields; a yes to the question selects it."""

REFERENCE_FIELDS: tuple[str, ...] = (
    # Organisation
    "org_Name", "org_ShippingCity", "org_ShippingCountry", "org_ShippingState", "org_ShippingStreet",
    "org_ShippingPostalCode", "org_ShippingLongitude", "org_ShippingLatitude", "org_Phone", "org_Type",
    # Person
    "prs_Salutation", "prs_FirstName", "prs_MiddleName", "prs_SecondName", "prs_Birthdate", "prs_Gender",
    "prs_Deceased", "prs_Nationality", "prs_Title", "prs_Email", "prs_HomePhone", "prs_MobilePhone",
    "prs_MailingCity", "prs_MailingCountry", "prs_MailingState", "prs_MailingStreet", "prs_MailingPostalCode",
    "prs_MailingLongitude", "prs_MailingLatitude",
    # Person Victim Context
    "vic_AgreementToManagePersonalData", "vic_RecruitmentWebsitesAndApps", "vic_MethodOfRecruitment",
    "vic_LocationOfRecruitment", "vic_MethodsOfControl", "vic_TypeOfExploitation", "vic_Labour Industry",
    "vic_TypeOfSexExploitation", "vic_LocationOfExploitation", "vic_ExploitationWebsitesAndApps",
    "vic_Vulnerabilities", "vic_DetailsOfVulnerabilities",
    # Person Perpetrator Context
    "per_RoleInProcess", "per_RoleDetails", "per_Organisation",
    # Historic Trafficking Events
    "hte_Longitude", "hte_Latitude", "hte_City", "hte_Country", "hte_State", "hte_Street", "hte_PostalCode",
    "hte_Date", "hte_Type", "hte_Description",
    # Case
    "cas_Status", "cas_ReferringOrganisation", "cas_IncomingReferralDate", "cas_ReferringPrimaryCaseWorker",
    "cas_ReasonForIncomingReferral", "cas_IncomingReferralDetails", "cas_ReferredOrganisation",
    "cas_ReferredPrimaryCaseWorker", "cas_ReasonForOutgoingReferral", "cas_OutgoingReferralDate",
    "cas_OutgoingReferralDetails", "cas_ReasonForCaseClosure",
)  # fmt: skip
"""Every field of the reference (prefix + field name, as its tables give them; ``Labour Industry``
keeps the space the reference gives it)."""

PICKLISTS: dict[str, tuple[str, ...]] = {
    "prs_Gender": ("Male", "Female", "Transgender/NonConforming", "Unknown"),
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
}  # fmt: skip
"""Value names of the picklists Tarozu fills, in the reference's order (where the reference's
value names are its labels, with spaces, they are taken as they stand)."""

# --------------------------------------------------------------------- Tarozu -> HTCDS values
# ISO 3166-1 alpha-3 (Tarozu) -> alpha-2: the reference asks for "ISO 3166 country codes standard
# two-letter country codes" (prs_Nationality) and HTCDS's own country lists use them.
ALPHA2 = {
    "AFG": "AF", "ARE": "AE", "GEO": "GE", "IND": "IN", "KAZ": "KZ", "KGZ": "KG", "RUS": "RU",
    "SAU": "SA", "TJK": "TJ", "TUR": "TR", "UZB": "UZ",
}  # fmt: skip
GENDER = {"man": "Male", "woman": "Female", "trans_nonconforming": "Transgender/NonConforming", UNKNOWN: "Unknown"}
RECRUITER_RELATION = {"family": "Familial", "intimate_partner": "Intimate partner/marriage proposition"}
JOB_FOUND_VIA = {
    "online": "Internet (social media, online advertisement)",
    "messaging_app": "Internet (social media, online advertisement)",
    "licensed_agency": "Job offer/advertisement",
    "unlicensed_agency": "Job offer/advertisement",
    "employer_directly": "Job offer/advertisement",
}
LABOUR_INDUSTRY = {  # ISIC v4 sections, as the reference's Labour Industry values
    "agriculture": "A_AgricultureForestryAndFishing",
    "aquafarming": "A_AgricultureForestryAndFishing",
    "mining_or_drilling": "B_MiningAndQuarrying",
    "manufacturing": "C_Manufacturing",
    "construction": "F_Construction",
    "peddling": "G_WholesaleAndRetailTradeRepairOfMotorVehicles",
    "transportation": "H_TransportationAndStorage",
    "hospitality": "I_AccommodationAndFoodServiceActivities",
    "domestic_work": "T_ActivitiesOfHouseholdsAsEmployers",
}
SECTOR_EXPLOITATION = {"begging": "Begging", "illicit_activities": "Illicit activities"}
TYPE_OF_EXPLOITATION = {
    "labour": ("Forced labour",),
    "sexual": ("Sexual exploitation",),
    "both": ("Forced labour", "Sexual exploitation"),
    "none": (),
}
"""Specialist outcome -> vic_TypeOfExploitation (``unknown`` outcomes and the other findings are not exported)."""
EXPORTED_OUTCOMES = TRAFFICKING_OUTCOMES | {NONE_OUTCOME}
"""Outcomes exported (the keys of :data:`TYPE_OF_EXPLOITATION`)."""
WORKED_THERE = ("returnee", "family_member")
"""Statuses whose destination and sector are where the work happened (a prospective migrant's are
only intended, so they are no place or industry of exploitation)."""
EXPLOITATION_EVENT = "Exploitation"


@dataclass(frozen=True)
class Column:
    """One HTCDS field of the export and the Tarozu values it comes from."""

    name: str
    sources: tuple[str, ...]
    rule: str
    multi: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("prs_Gender", ("gender",), "man → Male, woman → Female, trans_nonconforming → "
           "Transgender/NonConforming, not recorded → Unknown"),
    Column("prs_Nationality", ("citizenship",), "ISO 3166-1 alpha-3 → the two-letter code the reference asks "
           "for; OTH and not recorded → empty"),
    Column("vic_MethodOfRecruitment", ("recruiter_relation", "job_found_via"),
           "recruiter family → Familial, intimate_partner → Intimate partner/marriage proposition; job found "
           "online or through a messaging app → Internet (social media, online advertisement), through an "
           "agency or the employer → Job offer/advertisement; both not recorded → Unknown; other values add "
           "nothing; and any value a question with an htcds key selects (table below)", multi=True),
    Column("vic_MethodsOfControl", ("questions with an htcds key",),
           "a value is selected when any question mapped to it is yes (table below)", multi=True),
    Column("vic_TypeOfExploitation", ("specialist outcome", "sector"),
           "labour → Forced labour, sexual → Sexual exploitation, both → both, none → empty; a labour outcome "
           "in begging or illicit activities also selects Begging or Illicit activities; a labour-rights "
           "violation or other vulnerability (not trafficking) is not exported, and counted apart", multi=True),
    Column("vic_Labour Industry", ("sector", "migrant_status", "specialist outcome"),
           "ISIC section of the sector, when the outcome includes labour and the person worked there "
           "(returnee or family member)", multi=True),
    Column("hte_Type", ("destination", "migrant_status"), "Exploitation when hte_Country is given"),
    Column("hte_Country", ("destination", "migrant_status"),
           "the two-letter code of the country of work, when the person worked there (returnee or family "
           "member); OTH and not recorded → empty"),
)  # fmt: skip
ROLE_IN_PROCESS = Column(
    "per_RoleInProcess",
    ("questions with an htcds key",),
    "the roles a question mapped to them says some perpetrator played, when it is yes (table below); "
    "exported only while some question maps to it",
    multi=True,
)
HANDLED_FIELDS = frozenset(
    {"gender", "citizenship", "recruiter_relation", "job_found_via", "sector", "destination", "migrant_status"}
)
"""Context and audit fields the hand mappings read (questions count when their htcds key maps them)."""

NO_CASES = (
    "the audit log has no referred screening with a known specialist outcome in that period "
    "({screened} screened, {referred} referred); nothing to export"
)
BAD_KEY = (
    "questionnaire field {field!r} names HTCDS {htcds!r}, but {value!r} is not a value of {column} in the "
    "reference ({allowed})"
)
BAD_SUFFIX = "HTCDS export writes .csv or .json, not {suffix!r}"


# ------------------------------------------------------------------------------- the mapping
def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def derived_mapping(q: Questionnaire | None = None) -> dict[str, dict[str, tuple[str, ...]]]:
    """HTCDS multi-select field -> value -> the questions whose yes selects it, from the ``htcds`` keys.

    A key ``<Field><Value>`` of :data:`DERIVED_FIELDS` must name a value of the reference (compared
    without case, spaces or punctuation, and exported as the reference spells it): a typo is an
    error. Only questions answered yes or no can select a value; keys naming other HTCDS fields are
    reported by :func:`unmapped_questions`.
    """
    q = q or load_questionnaire()
    found: dict[str, dict[str, list[str]]] = {}
    for f in q.all_fields:
        if not f.htcds or YES not in f.levels:
            continue
        for key, column in DERIVED_FIELDS.items():
            if not f.htcds.startswith(key):
                continue
            wanted = _squash(f.htcds.removeprefix(key))
            allowed = PICKLISTS[column]
            value = next((v for v in allowed if _squash(v) == wanted), None)
            if value is None:
                raise CommandError(
                    BAD_KEY.format(
                        field=f.id, htcds=f.htcds, value=f.htcds.removeprefix(key), column=column,
                        allowed=", ".join(allowed),
                    )
                )  # fmt: skip
            found.setdefault(column, {}).setdefault(value, []).append(f.id)
    return {
        column: {v: tuple(values[v]) for v in PICKLISTS[column] if v in values}
        for column in DERIVED_FIELDS.values()
        if (values := found.get(column))
    }


def methods_of_control(q: Questionnaire | None = None) -> dict[str, tuple[str, ...]]:
    """vic_MethodsOfControl value -> the indicators mapped to it (``MethodsOfControl*`` htcds keys)."""
    return derived_mapping(q).get("vic_MethodsOfControl", {})


def columns(q: Questionnaire | None = None) -> tuple[Column, ...]:
    """The export's columns: the hand-mapped ones, and per_RoleInProcess while a question maps to it."""
    derived = derived_mapping(q)
    return COLUMNS + ((ROLE_IN_PROCESS,) if ROLE_IN_PROCESS.name in derived else ())


def unmapped_questions(q: Questionnaire | None = None) -> dict[str, str]:
    """Questionnaire fields that no column carries, and why."""
    q = q or load_questionnaire()
    mapped = {i for values in derived_mapping(q).values() for ids in values.values() for i in ids}
    out: dict[str, str] = {}
    for f in q.all_fields:
        if f.id in mapped or f.id in HANDLED_FIELDS:
            continue
        out[f.id] = f"names HTCDS {f.htcds}, which no column can take from it" if f.htcds else "no HTCDS field"
    return out


def unmapped_fields(q: Questionnaire | None = None) -> list[str]:
    """Tarozu fields (and logged values) that no HTCDS column carries."""
    return [*unmapped_questions(q), "screener_assessment", "danger", "model result"]


def fields_without_source(q: Questionnaire | None = None) -> list[str]:
    """HTCDS fields of the reference that the export leaves out (no Tarozu value records them)."""
    exported = {c.name for c in columns(q)}
    return [name for name in REFERENCE_FIELDS if name not in exported]


def _value(q: Questionnaire, flat: Mapping[str, Any], field_id: str) -> str:
    """The normalised value of ``field_id`` (not recorded if the questionnaire has it no more)."""
    try:
        f: Field = q.field(field_id)
    except ValueError:
        return UNKNOWN
    return f.normalise(flat.get(field_id))


def case_row(flat: Mapping[str, Any], outcome: str, q: Questionnaire | None = None) -> dict[str, list[str]]:
    """One case as HTCDS fields: every column, as a list of values (empty: nothing recorded)."""
    q = q or load_questionnaire()
    worked_there = _value(q, flat, "migrant_status") in WORKED_THERE
    sector = _value(q, flat, "sector")
    destination = _value(q, flat, "destination")
    relation, via = _value(q, flat, "recruiter_relation"), _value(q, flat, "job_found_via")

    recruitment: list[str | None] = [RECRUITER_RELATION.get(relation), JOB_FOUND_VIA.get(via)]
    if relation == UNKNOWN and via == UNKNOWN:
        recruitment = ["Unknown"]
    types: list[str | None] = list(TYPE_OF_EXPLOITATION[outcome])
    labour = "Forced labour" in types
    if labour and sector in SECTOR_EXPLOITATION:
        types.append(SECTOR_EXPLOITATION[sector])
    country = ALPHA2.get(destination) if worked_there else None
    row: dict[str, list[str | None]] = {
        "prs_Gender": [GENDER.get(_value(q, flat, "gender"), "Unknown")],
        "prs_Nationality": [ALPHA2.get(_value(q, flat, "citizenship"))],
        "vic_MethodOfRecruitment": recruitment,
        "vic_MethodsOfControl": [],
        "vic_TypeOfExploitation": types,
        "vic_Labour Industry": [LABOUR_INDUSTRY.get(sector) if labour and worked_there else None],
        "hte_Type": [EXPLOITATION_EVENT if country else None],
        "hte_Country": [country],
    }
    for column, values in derived_mapping(q).items():
        selected = [v for v, ids in values.items() if any(_value(q, flat, i) == YES for i in ids)]
        row.setdefault(column, []).extend(selected)
    if "Unknown" in row["vic_MethodOfRecruitment"] and len(set(row["vic_MethodOfRecruitment"])) > 1:
        row["vic_MethodOfRecruitment"].remove("Unknown")  # a question said how: no longer unknown
    return {c.name: _in_reference_order(c.name, row.get(c.name, [])) for c in columns(q)}


def _in_reference_order(column: str, values: Iterable[str | None]) -> list[str]:
    given = {v for v in values if v}
    order = PICKLISTS.get(column)
    return [v for v in order if v in given] if order else sorted(given)


def htcds_cases(screenings: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, list[str]]], dict[str, int]]:
    """HTCDS rows of the referred screenings with a known specialist outcome, and the counts behind them."""

    q = load_questionnaire()
    rows: list[dict[str, list[str]]] = []
    screened = referred = other_finding = 0
    for s in screenings:
        screened += 1
        if (s.get("decision") or {}).get("decision") != "referred":
            continue
        referred += 1
        settled = EXPORTED_OUTCOMES | OTHER_FINDING_OUTCOMES
        known = [o["outcome"] for o in s.get("outcomes", []) if o["outcome"] in settled]
        if known and known[-1] in OTHER_FINDING_OUTCOMES:
            other_finding += 1
        elif known:
            rows.append(case_row(flat_values(s["current"]), known[-1], q))
    counts = {
        "screened": screened,
        "referred": referred,
        "exported": len(rows),
        "referred_other_finding": other_finding,
        "referred_no_outcome": referred - len(rows) - other_finding,
    }
    if not rows:
        raise CommandError(NO_CASES.format(**counts))
    return rows, counts


# -------------------------------------------------------------------------------- the files
def write_cases(rows: Sequence[Mapping[str, list[str]]], out: str | Path) -> Path:
    """CSV (multi-select values joined with ``;``) or JSON (lists for multi-select fields)."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise CommandError(BAD_SUFFIX.format(suffix=path.suffix))
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = columns()
    names = [c.name for c in cols]
    multi = {c.name for c in cols if c.multi}
    if suffix == ".json":
        records = [{n: row[n] if n in multi else (row[n][0] if row[n] else None) for n in names} for row in rows]
        path.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({n: MULTI_SELECT_DELIMITER.join(row[n]) for n in names})
    return path


def run(args: argparse.Namespace) -> int:

    if Path(args.out).suffix.lower() not in (".csv", ".json"):
        raise CommandError(BAD_SUFFIX.format(suffix=Path(args.out).suffix))
    screenings = screenings_with_outcomes(database_url=args.database_url, start=args.start, end=args.end)
    rows, counts = htcds_cases(screenings)
    out = write_cases(rows, args.out)
    no_source = fields_without_source()
    unmapped = unmapped_fields()
    print(
        f"wrote {len(rows)} HTCDS case rows to {out} ({counts['screened']} screened, {counts['referred']} "
        f"referred, {counts['referred_no_outcome']} referred without a known specialist outcome, not exported)"
    )
    if counts["referred_other_finding"]:
        print(
            f"{counts['referred_other_finding']} referred with a finding other than trafficking (labour-rights "
            "violation or other vulnerability): HTCDS has no value for it, not exported"
        )
    print(f"HTCDS fields with no Tarozu source ({len(no_source)}): {', '.join(no_source)}")
    print(f"Tarozu fields with no HTCDS field ({len(unmapped)}): {', '.join(unmapped)}")
    return 0


# ------------------------------------------------------------------------------ documentation
DOC_START = "<!-- htcds-mapping:start (generated by `python -m pipeline.htcds --write-docs`) -->"
DOC_END = "<!-- htcds-mapping:end -->"
DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "htcds.md"


def mapping_markdown() -> str:
    """The mapping tables of docs/htcds.md, generated from the questionnaire and :data:`COLUMNS`."""
    q = load_questionnaire()
    lines = ["| HTCDS field | Tarozu source | Rule |", "| --- | --- | --- |"]
    for c in columns(q):
        sources = ", ".join(s if " " in s else f"`{s}`" for s in c.sources)
        lines.append(f"| `{c.name}`{' (multi-select)' if c.multi else ''} | {sources} | {c.rule} |")
    for column, values in derived_mapping(q).items():
        lines += ["", f"| `{column}` value | Questions (a yes to any selects the value) |", "| --- | --- |"]
        lines += [f"| `{v}` | {', '.join(f'`{i}`' for i in ids)} |" for v, ids in values.items()]
    unused = [v for v in PICKLISTS["vic_MethodsOfControl"] if v not in methods_of_control(q)]
    lines += ["", f"No question gives the `vic_MethodsOfControl` values {', '.join(f'`{v}`' for v in unused)}."]
    lines += ["", "Tarozu values with no HTCDS field:", ""]
    lines += [f"- `{i}`: {why}" for i, why in unmapped_questions(q).items()]
    lines += ["- `screener_assessment`, `danger` and the model result (recommendation, scores): Tarozu's own"]
    lines += ["", "HTCDS fields of the reference with no Tarozu source:", ""]
    lines += [", ".join(f"`{n}`" for n in fields_without_source(q))]
    return "\n".join(lines)


BLOCK = re.compile(re.escape(DOC_START) + r"\n(?:(.*?)\n)?" + re.escape(DOC_END), flags=re.S)


def documented_block(text: str) -> str | None:
    """The generated block of docs/htcds.md's text (between the markers), ``None`` without markers."""
    match = BLOCK.search(text)
    return None if match is None else (match.group(1) or "")


def write_docs(path: Path = DOC_PATH) -> None:
    """Regenerate the mapping block of docs/htcds.md."""
    text = path.read_text(encoding="utf-8")
    if documented_block(text) is None:
        raise CommandError(f"{path} has no {DOC_START} ... {DOC_END} block")
    block = f"{DOC_START}\n{mapping_markdown()}\n{DOC_END}"
    path.write_text(BLOCK.sub(lambda _m: block, text), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-docs"]:
        write_docs()
    else:
        print(mapping_markdown())
