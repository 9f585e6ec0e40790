"""CTDC (IOM Counter-Trafficking Data Collaborative) layouts <-> the Tarozu frame.

Two CTDC layouts are read, one is written:

- **Global Synthetic Dataset v2024** (27 columns; flags are ``1`` or empty; empty means
  *not recorded*, never "no"). Read by :func:`from_v2024`; :func:`to_v2024` builds
  the table that :func:`pipeline.data.schema.export_ctdc_v2024` writes.
- **Victim-Perpetrator Synthetic Dataset, condensed** (16 columns, regions instead of
  countries). Read by :func:`from_vp_condensed`.

Decisions, each reported in :attr:`Mapped.notes` when it affects a file:

- A ``means*`` flag names a *group* of Tarozu indicators (the questionnaire's ``ctdc`` key).
  Marking every indicator of the group "yes" would invent answers. Where the mapping is
  one-to-one the indicator gets "yes"; where it is one-to-many only the group's *primary*
  indicator (the first declared among the strongest, by Delphi strength for labour) gets
  "yes" and the others stay "not_asked". An empty flag means the sign was not recorded: all
  of them stay "not_asked" (no evidence), never "no". Indicators CTDC has no column for are
  "not_asked" too. On export a ``means*`` flag is 1 if any indicator of its group is "yes".
- ``traffickMonths`` is the duration of the trafficking episode, Tarozu's ``months_abroad``
  the time abroad: bands are mapped to the bins they overlap (0--12 -> ``1_12``: a
  registered case lasted some time; on export ``none`` and ``1_12`` both give 0--12).
  Bands are written as the published v2024 file has them (``0--12 (0-1 yr)``); the part
  before `` (`` is enough when reading.
- Countries outside the questionnaire's list become ``OTH``; the condensed file has regions
  only, so destination and citizenship stay "unknown" and the region columns are reported.
- Several flags set where Tarozu has one value (sector, recruiter relation) give "unknown".
- Condensed file: ``majorityStatus`` cannot say which age band (age_band stays "unknown");
  ``IP_Relation`` FriendAcquaintance -> friend, FamilyIntimatePartner -> family,
  StrangerUnknownOther -> other, several relations -> several. The perpetrator and process
  columns a screener can ask become questionnaire fields (:data:`VP_FIELDS`): a ``1`` flag
  is "yes", an empty one not recorded (``not_asked`` / ``unknown``, never "no");
  ``IP_PayMoney`` No;Yes (several perpetrators, at least one paid) is "yes". What stays
  unmapped, and why, is :data:`VP_UNMAPPED` (also in docs/questionnaire.md).
- CTDC holds identified victims only: an empty ``isForcedLabour``/``isSexualExploit``
  becomes label 0, and the dataset is marked ``identified_victims_only``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.questionnaire import NOT_ASKED, STRENGTHS, UNKNOWN, YES, Field, load_questionnaire
from pipeline.data.columns import YEAR_COLUMN, DataFormatError, FrameValidationError

CTDC_V2024_COLUMNS: tuple[str, ...] = (
    "yearOfRegistration",
    "gender",
    "ageBroad",
    "citizenship",
    "CountryOfExploitation",
    "traffickMonths",
    "meansDebtBondageEarnings",
    "meansThreats",
    "meansAbusePsyPhySex",
    "meansFalsePromises",
    "meansDrugsAlcohol",
    "meansDenyBasicNeeds",
    "meansExcessiveWorkHours",
    "meansWithholdDocs",
    "isForcedLabour",
    "isSexualExploit",
    "isOtherExploit",
    "typeOfLabourAgriculture",
    "typeOfLabourConstruction",
    "typeOfLabourDomesticWork",
    "typeOfLabourHospitality",
    "typeOfSexProstitution",
    "typeOfSexPornography",
    "recruiterRelationIntimatePartner",
    "recruiterRelationFriend",
    "recruiterRelationFamily",
    "recruiterRelationOther",
)
VP_CONDENSED_COLUMNS: tuple[str, ...] = (
    "yearRegister",
    "gender",
    "majorityStatus",
    "isForcedLabour",
    "isSexualExploit",
    "UN_COO_Region",
    "UN_COE_Region",
    "IP_Exploiter",
    "IP_Gender",
    "IP_ageBroad",
    "IP_citizen_UNRegion",
    "IP_Relation",
    "IP_PayMoney",
    "IP_RecruiterBroker",
    "IP_TransactionProcess",
    "IP_ControlAbuseKidnap",
)
# CTDC label column of each Tarozu label, and of the year.
LABEL_CTDC: dict[str, str] = {"is_labour": "isForcedLabour", "is_sexual": "isSexualExploit"}
YEAR_CTDC = "yearOfRegistration"
# CTDC v2024 gender coding; other coded fields are derived (ages "18-20" <-> "18--20").
GENDER_CTDC: dict[str, str] = {
    "man": "Man",
    "woman": "Woman",
    "trans_nonconforming": "Trans/Transgender/NonConforming",
}
# traffickMonths bands as published in the v2024 file; the part before " (" is also accepted.
TRAFFICK_MONTHS_CTDC: dict[str, str] = {
    "none": "0--12 (0-1 yr)",
    "1_12": "0--12 (0-1 yr)",
    "13_24": "13--24 (1-2 yrs)",
    "25_plus": "25+ (2+ yrs)",
}
TRAFFICK_MONTHS_READ: dict[str, str] = {"0--12": "1_12", "13--24": "13_24", "25+": "25_plus"}
VP_GENDER: dict[str, str] = {"Female": "woman", "Male": "man"}
VP_RELATION: dict[str, str] = {
    "FriendAcquaintance": "friend",
    "FamilyIntimatePartner": "family",
    "StrangerUnknownOther": "other",
}
VP_SEVERAL_RELATIONS = "several"
# Condensed-file column -> (Tarozu field, CTDC value -> Tarozu level). Empty is the field's
# reference level (not asked / unknown); a value not listed is an error. Values holding
# several ';'-separated codes are listed where they mean something (a man and a woman).
VP_FIELDS: dict[str, tuple[str, dict[str, str]]] = {
    "IP_PayMoney": ("paid_recruitment_fee", {"Yes": YES, "No": "no", "No;Yes": YES}),
    "IP_TransactionProcess": ("sold_or_handed_over", {"1": YES, "1.0": YES}),
    "IP_ControlAbuseKidnap": ("abducted", {"1": YES, "1.0": YES}),
    "IP_RecruiterBroker": ("recruited_by_broker", {"1": "yes", "1.0": "yes"}),
    "IP_Gender": ("recruiter_gender", {"Male": "man", "Female": "woman", "Female;Male": "both"}),
    "IP_ageBroad": ("recruiter_age", {"0--29": "under_30", "30--38": "30-38", "39--47": "39-47", "48+": "48+"}),
    "UN_COE_Region": (
        "destination_region",
        {"Europe": "europe", "Asia": "asia", "Africa": "africa", "Americas/Oceania": "americas_oceania"},
    ),
}
# Condensed-file columns left out of the questionnaire, and why.
VP_UNMAPPED: dict[str, str] = {
    "yearRegister": (
        "year band of the case's registration: a fact about the record, not the person; bands "
        "(2005-2013, 2014-2018, ...) do not give Tarozu's year"
    ),
    "majorityStatus": "Adult/Minor does not give an age band; age is a protected attribute (a monitoring field)",
    "UN_COO_Region": "the victim's region of origin: a protected attribute (citizenship), never a feature",
    "IP_citizen_UNRegion": (
        "region of the perpetrators' citizenship: a proxy of the victim's own region of origin "
        "(Cramer's V 0.92 with UN_COO_Region on this file), so a protected-attribute proxy; and "
        "a region cannot say whether a recruiter was a compatriot (Tajik and Uzbek are both Asia)"
    ),
    "IP_Exploiter": (
        "whether the case record holds a perpetrator in the exploiter role: a fact of the "
        "investigation, not a question for the person (every victim had an exploiter); no signal "
        "on this file beyond the other columns"
    ),
}
# v2024 columns left out of the questionnaire (beyond the labels and the year), and why.
V2024_UNMAPPED: dict[str, str] = {
    "isOtherExploit": "a third type of exploitation: an outcome, not a question (Tarozu screens labour and sexual)",
    "typeOfSexProstitution": "the form of sexual exploitation: part of the outcome, it would leak the label",
    "typeOfSexPornography": "the form of sexual exploitation: part of the outcome, it would leak the label",
}
# Source columns that are protected attributes of the person (or their raw codes): never
# fitted on, not even in research runs; and columns that are part of the outcome.
PROTECTED_SOURCE_COLUMNS: frozenset[str] = frozenset(
    {"gender", "ageBroad", "citizenship", "majorityStatus", "UN_COO_Region"}
)
OUTCOME_SOURCE_COLUMNS: frozenset[str] = frozenset(
    {*LABEL_CTDC.values(), "isOtherExploit", "typeOfSexProstitution", "typeOfSexPornography"}
)
OTHER_COUNTRY = "OTH"
FLAG_TRUE: frozenset[str] = frozenset({"1", "1.0"})
FLAG_EMPTY: frozenset[str] = frozenset({""})
_ISO3 = re.compile(r"^[A-Z]{3}$")

BAD_FLAG = (
    "CTDC column {column!r}: flags must be 1 or empty (empty means not recorded), found {values}; "
    "a file where 0 stands for 'not recorded' cannot be told apart from 'no': re-export it from CTDC"
)
BAD_CODE = "CTDC column {column!r}: value(s) {values} not recognised; allowed values are {allowed}"
NOT_A_FRAME_FIELD = "field {field!r} has no CTDC coding"


@dataclass
class Mapped:
    """A source table mapped to Tarozu columns, with what could not be mapped."""

    frame: pd.DataFrame
    unmapped_columns: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _strength_rank(f: Field) -> int:
    return STRENGTHS.index(f.delphi_strength("labour") or STRENGTHS[-1])


def means_groups() -> dict[str, list[str]]:
    """CTDC ``means*`` column -> the indicators it names, primary indicator first."""
    groups: dict[str, list[Field]] = {}
    for f in load_questionnaire().indicators:
        if f.ctdc and f.ctdc.startswith("means"):
            groups.setdefault(f.ctdc, []).append(f)
    # Stable sort: the first declared among the strongest comes first.
    return {col: [f.id for f in sorted(fs, key=_strength_rank)] for col, fs in groups.items()}


def _camel(level: str) -> str:
    return "".join(part.capitalize() for part in level.split("_"))


def flag_columns(field_id: str) -> dict[str, str]:
    """v2024 one-hot flag column -> level, for a field whose ``ctdc`` key is a column prefix."""
    f = load_questionnaire().field(field_id)
    if not f.ctdc:
        return {}
    columns = {f.ctdc + _camel(level): level for level in f.levels if level != UNKNOWN}
    return {col: level for col, level in columns.items() if col in CTDC_V2024_COLUMNS}


def coded_fields() -> dict[str, str]:
    """Tarozu field -> CTDC column, where one v2024 column holds the same information.

    These columns keep their CTDC name and coding in Tarozu files too.
    """
    q = load_questionnaire()
    return {f.id: f.ctdc for f in q.context + q.monitoring if f.ctdc in CTDC_V2024_COLUMNS and not f.numeric}


def level_codes(field_id: str) -> dict[str, str]:
    """Tarozu level -> CTDC code for a coded field; "unknown" is the empty string."""
    f = load_questionnaire().field(field_id)
    if field_id not in coded_fields():
        raise FrameValidationError(NOT_A_FRAME_FIELD.format(field=field_id))
    if field_id == "gender":
        codes = dict(GENDER_CTDC)
    elif field_id == "age_band":
        codes = {level: level.replace("-", "--") for level in f.levels if level != UNKNOWN}
    else:
        codes = {level: level for level in f.levels if level != UNKNOWN}
    return {**codes, UNKNOWN: ""}


def _clean(series: pd.Series) -> pd.Series:
    """Strings with surrounding blanks removed; missing becomes the empty string."""
    return series.astype("str").fillna("").str.strip()


def _examples(values: pd.Series, limit: int = 8) -> list[str]:
    return sorted(map(str, values.unique()))[:limit]


def encode_levels(field_id: str, series: pd.Series) -> pd.Series:
    """Tarozu levels of a coded field -> CTDC codes."""
    return series.map(level_codes(field_id)).astype("str")


def decode_levels(field_id: str, series: pd.Series, *, column: str, countries_to_other: bool) -> pd.Series:
    """CTDC codes of a coded field -> Tarozu levels; a code not in the coding is an error.

    With ``countries_to_other`` any other ISO alpha-3 code becomes ``OTH`` (reading CTDC);
    without it (reading Tarozu files) only the questionnaire's codes are accepted.
    """
    f = load_questionnaire().field(field_id)
    inverse = {code: level for level, code in level_codes(field_id).items()}
    values = _clean(series)
    if field_id == "age_band":
        values = values.str.replace(r"^(\d+)-(\d+)$", r"\1--\2", regex=True)
    out = values.map(inverse)
    if countries_to_other and OTHER_COUNTRY in f.levels:
        other = out.isna() & values.str.fullmatch(_ISO3.pattern)
        out = out.mask(other, OTHER_COUNTRY)
    bad = out.isna()
    if bad.any():
        allowed = [code for code in inverse if code] + ["(empty)"]
        if countries_to_other and OTHER_COUNTRY in f.levels:
            allowed.append("(any other ISO alpha-3 code -> OTH)")
        raise FrameValidationError(BAD_CODE.format(column=column, values=_examples(values[bad]), allowed=allowed))
    return out.astype("str")


def _flags(raw: pd.DataFrame, column: str) -> pd.Series:
    """A CTDC flag column as booleans (1 -> True, empty -> False)."""
    values = _clean(raw[column])
    bad = ~values.isin(FLAG_TRUE | FLAG_EMPTY)
    if bad.any():
        raise DataFormatError(BAD_FLAG.format(column=column, values=_examples(values[bad])))
    return values.isin(FLAG_TRUE)


def _reference_frame(n: int) -> pd.DataFrame:
    """Every field at its reference level: indicators not asked, other fields unknown."""
    q = load_questionnaire()
    return pd.DataFrame({f.id: np.full(n, f.reference, dtype=object) for f in q.all_fields})


def _one_of_flags(raw: pd.DataFrame, columns: dict[str, str], out: pd.DataFrame, field_id: str) -> int:
    """Set ``field_id`` from one-hot flags; returns the number of rows with several flags."""
    if not columns:
        return 0
    flags = pd.DataFrame({level: _flags(raw, col) for col, level in columns.items()})
    count = flags.sum(axis=1)
    single = count == 1
    out.loc[single, field_id] = flags.loc[single].idxmax(axis=1)
    return int((count > 1).sum())


def from_v2024(raw: pd.DataFrame) -> Mapped:
    """Map a CTDC v2024 Global Synthetic table (all cells read as strings) to Tarozu columns."""
    q = load_questionnaire()
    n = len(raw)
    out = _reference_frame(n)
    notes: list[str] = []
    used: set[str] = set()
    provided: set[str] = set()

    for field_id, column in coded_fields().items():
        out[field_id] = decode_levels(field_id, raw[column], column=column, countries_to_other=True)
        used.add(column)
        provided.add(field_id)

    months = q.field("months_abroad")
    column = months.ctdc or "traffickMonths"
    bands = _clean(raw[column]).str.split(" (", n=1, regex=False).str[0]
    mapped = bands.map({**TRAFFICK_MONTHS_READ, "": UNKNOWN})
    if mapped.isna().any():
        allowed = [*TRAFFICK_MONTHS_READ, "(empty)"]
        raise FrameValidationError(
            BAD_CODE.format(column=column, values=_examples(bands[mapped.isna()]), allowed=allowed)
        )
    out[months.id] = mapped
    used.add(column)
    provided.add(months.id)
    notes.append(
        f"{column} (duration of trafficking) mapped band to band onto {months.id} (time abroad): "
        "0--12 -> 1_12, 13--24 -> 13_24, 25+ -> 25_plus"
    )

    for column, indicators in means_groups().items():
        primary, others = indicators[0], indicators[1:]
        out.loc[_flags(raw, column), primary] = YES
        used.add(column)
        provided.add(primary)
        if others:
            notes.append(
                f"{column}: a flag marks only {primary!r} 'yes'; it also covers {others}, "
                f"which stay '{NOT_ASKED}' (CTDC cannot say which of them occurred)"
            )
    notes.append(
        f"means* flags: an empty flag means the sign was not recorded, so its indicators are '{NOT_ASKED}' "
        "(no evidence either way), never 'no'"
    )

    for field_id in ("sector", "recruiter_relation"):
        columns = flag_columns(field_id)
        several = _one_of_flags(raw, columns, out, field_id)
        used.update(columns)
        provided.add(field_id)
        if several and field_id == "recruiter_relation":
            flags = pd.DataFrame({level: _flags(raw, col) for col, level in columns.items()})
            out.loc[flags.sum(axis=1) > 1, field_id] = VP_SEVERAL_RELATIONS
            notes.append(f"{field_id}: {several} row(s) with several {sorted(columns)} flags -> {VP_SEVERAL_RELATIONS}")
        elif several:
            notes.append(f"{field_id}: {several} row(s) with several {sorted(columns)} flags left 'unknown'")
    notes.append(
        "sector: only the v2024 typeOfLabour flags "
        f"{sorted(flag_columns('sector'))} exist; other sectors come out 'unknown'"
    )

    labels = {}
    for label, column in LABEL_CTDC.items():
        labels[label] = _flags(raw, column).astype("int64")
        used.add(column)
    frame = out.assign(**labels)

    years = _clean(raw[YEAR_CTDC])
    used.add(YEAR_CTDC)
    if (years != "").all() and years.str.fullmatch(r"\d{4}").all():
        frame[YEAR_COLUMN] = years.astype("int64")
    else:
        notes.append(f"{YEAR_CTDC} has empty or non-year values: the year column is left out")

    notes.append(
        "CTDC holds identified victims only: an empty isForcedLabour/isSexualExploit is label 0, "
        "which means 'not recorded as this type', not 'not a victim'"
    )
    unmapped = [c for c in raw.columns if c not in used]
    for column in unmapped:
        if column in V2024_UNMAPPED:
            notes.append(f"{column} not mapped: {V2024_UNMAPPED[column]}")
    missing = [f.id for f in q.all_fields if f.id not in provided]
    return Mapped(frame=frame, unmapped_columns=unmapped, missing_fields=missing, notes=notes)


def from_vp_condensed(raw: pd.DataFrame) -> Mapped:
    """Map the CTDC Victim-Perpetrator condensed table (cells as strings) to Tarozu columns."""
    q = load_questionnaire()
    out = _reference_frame(len(raw))
    notes: list[str] = []

    gender = _clean(raw["gender"])
    mapped = gender.map({**VP_GENDER, "": UNKNOWN})
    if mapped.isna().any():
        raise FrameValidationError(
            BAD_CODE.format(column="gender", values=_examples(gender[mapped.isna()]), allowed=[*VP_GENDER, "(empty)"])
        )
    out["gender"] = mapped

    relation = _clean(raw["IP_Relation"])
    several = relation.str.contains(";", regex=False)
    mapped = relation.map({**VP_RELATION, "": UNKNOWN}).mask(several, VP_SEVERAL_RELATIONS)
    if mapped.isna().any():
        allowed = [*VP_RELATION, "(empty)", "(several, ';'-separated)"]
        raise FrameValidationError(
            BAD_CODE.format(column="IP_Relation", values=_examples(relation[mapped.isna()]), allowed=allowed)
        )
    out["recruiter_relation"] = mapped
    notes.append(
        "IP_Relation -> recruiter_relation: FriendAcquaintance -> friend, FamilyIntimatePartner -> family "
        "(intimate partners cannot be told apart), StrangerUnknownOther -> other; "
        f"{int(several.sum())} row(s) naming several relations -> {VP_SEVERAL_RELATIONS}"
    )
    for column, (field_id, codes) in VP_FIELDS.items():
        f = q.field(field_id)
        values = _clean(raw[column])
        if column == "IP_ageBroad":
            # several perpetrators of different ages: no one band
            values = values.mask(values.str.contains(";", regex=False), "")
        out[field_id] = values.map({**codes, "": f.reference})
        bad = out[field_id].isna()
        if bad.any():
            allowed = [*codes, "(empty)"]
            raise FrameValidationError(BAD_CODE.format(column=column, values=_examples(values[bad]), allowed=allowed))
    notes.append(
        "perpetrator and process columns -> questionnaire fields: "
        + ", ".join(f"{c} -> {f}" for c, (f, _) in VP_FIELDS.items())
        + f"; an empty cell is '{NOT_ASKED}' / '{UNKNOWN}' (not recorded), never 'no'; IP_PayMoney No;Yes "
        "(several perpetrators, at least one paid) -> yes; IP_ageBroad naming several bands -> unknown"
    )
    for column, why in VP_UNMAPPED.items():
        notes.append(f"{column} not mapped: {why}")

    minors = int((_clean(raw["majorityStatus"]) == "Minor").sum())
    notes.append(
        f"majorityStatus (Adult/Minor) does not say which age band: age_band left 'unknown' "
        f"({minors} minors, who fall in 0-8 or 9-17)"
    )
    notes.append(
        "UN_COE_Region and UN_COO_Region are UN regions, not countries: destination and citizenship left 'unknown' "
        "(UN_COE_Region fills destination_region)"
    )

    labels = {label: _flags(raw, column).astype("int64") for label, column in LABEL_CTDC.items()}
    neither = int(((labels["is_labour"] == 0) & (labels["is_sexual"] == 0)).sum())
    notes.append(
        f"{neither} row(s) have neither isForcedLabour nor isSexualExploit: kept with both labels 0; "
        "they are identified victims of another or unrecorded type, not non-victims"
    )
    frame = out.assign(**labels)
    provided = {"gender", "recruiter_relation", *(f for f, _ in VP_FIELDS.values())}
    used = {"gender", "IP_Relation", *LABEL_CTDC.values(), *VP_FIELDS}
    unmapped = [c for c in raw.columns if c not in used]
    missing = [f.id for f in q.all_fields if f.id not in provided]
    return Mapped(frame=frame, unmapped_columns=unmapped, missing_fields=missing, notes=notes)


def to_v2024(df: pd.DataFrame) -> pd.DataFrame:
    """The CTDC v2024 table (27 columns, flags 1 or empty) of a validated Tarozu frame.

    Lossy by design: indicators collapse into their ``means*`` group (1 if any is "yes";
    "no", "dont_know", "declined" and "not_asked" all become empty), and sectors without a
    v2024 flag are dropped.
    """
    n = len(df)
    empty = np.full(n, "", dtype=object)
    out: dict[str, object] = {column: empty for column in CTDC_V2024_COLUMNS}

    def flag(mask: pd.Series | np.ndarray) -> np.ndarray:
        return np.where(np.asarray(mask, dtype=bool), "1", "")

    for field_id, column in coded_fields().items():
        out[column] = encode_levels(field_id, df[field_id]).to_numpy(dtype=object)
    months = df["months_abroad"].map({**TRAFFICK_MONTHS_CTDC, UNKNOWN: ""})
    out["traffickMonths"] = months.to_numpy(dtype=object)
    for column, indicators in means_groups().items():
        out[column] = flag((df[indicators] == YES).any(axis=1))
    for field_id in ("sector", "recruiter_relation"):
        for column, level in flag_columns(field_id).items():
            out[column] = flag(df[field_id] == level)
    for label, column in LABEL_CTDC.items():
        out[column] = flag(df[label] == 1)
    if YEAR_COLUMN in df.columns:
        out[YEAR_CTDC] = df[YEAR_COLUMN].astype("int64").astype("str").to_numpy(dtype=object)
    return pd.DataFrame(out, columns=list(CTDC_V2024_COLUMNS)).astype("str")
