"""CTDC layouts: the real Victim-Perpetrator file, and the v2024 layout both ways."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from models.questionnaire import load_questionnaire
from pipeline.data.columns import DataFormatError, FrameValidationError
from pipeline.data.ctdc import CTDC_V2024_COLUMNS, TRAFFICK_MONTHS_CTDC, VP_FIELDS, VP_UNMAPPED, means_groups
from pipeline.data.schema import Dataset, export_ctdc_v2024, load_dataset, validate_frame

Factory = Callable[..., pd.DataFrame]

# Counts from data/ctdc/SOURCE.md (python3 csv module).
VP_ROWS = 21_195
VP_SHA256 = "1ce1c5a7bccab2e8baeab7dd8f06f70e657aabf411ebaf5d3fb9c2d15064fb8f"


@pytest.fixture(scope="module")
def vp(ctdc_vp_path: Path) -> Dataset:
    return load_dataset(ctdc_vp_path)


def test_vp_file_counts_match_its_source_notes(vp: Dataset) -> None:
    frame = vp.frame
    assert len(frame) == VP_ROWS
    labour, sexual = frame["is_labour"] == 1, frame["is_sexual"] == 1
    assert int((labour & ~sexual).sum()) == 11_901
    assert int((~labour & sexual).sum()) == 2_428
    assert int((labour & sexual).sum()) == 347
    assert int((~labour & ~sexual).sum()) == 6_519
    gender = frame["gender"].value_counts()
    assert gender["woman"] == 9_589
    assert gender["man"] == 7_995
    assert gender["unknown"] == 3_611
    relation = frame["recruiter_relation"].value_counts()
    assert relation["other"] == 8_321
    assert relation["friend"] == 4_617
    assert relation["family"] == 967


def test_vp_file_reports_what_it_cannot_give(vp: Dataset, ctdc_vp_path: Path) -> None:
    assert vp.source == "ctdc"
    assert vp.layout == "ctdc-vp-condensed"
    assert vp.identified_victims_only
    assert not vp.has_ground_truth
    assert vp.digest == VP_SHA256 == hashlib.sha256(ctdc_vp_path.read_bytes()).hexdigest()
    assert (
        set(vp.unmapped_columns)
        == set(VP_UNMAPPED)
        == {
            "yearRegister",
            "majorityStatus",
            "UN_COO_Region",
            "IP_Exploiter",
            "IP_citizen_UNRegion",
        }
    )
    assert not {"gender", "IP_Relation", "isForcedLabour", *VP_FIELDS} & set(vp.unmapped_columns)
    assert {"age_band", "destination", "citizenship", "deceived_job_nature"} <= set(vp.missing_fields)
    assert (vp.frame["age_band"] == "unknown").all()  # Adult/Minor does not give a band
    assert (vp.frame["destination"] == "unknown").all()  # regions, not countries
    mapped = {f for f, _ in VP_FIELDS.values()}
    indicators = [i for i in load_questionnaire().indicator_ids if i not in mapped]
    assert (vp.frame[indicators] == "not_asked").all().all()  # the file records no other indicator
    assert not mapped & set(vp.missing_fields)
    for column in VP_UNMAPPED:
        assert any(note.startswith(f"{column} not mapped: ") for note in vp.notes), column
    assert any("6519 row(s) have neither" in note for note in vp.notes)
    assert any("1212 minors" in note for note in vp.notes)


@pytest.fixture(scope="module")
def vp_raw(ctdc_vp_path: Path) -> pd.DataFrame:
    return pd.read_csv(ctdc_vp_path, dtype=str, keep_default_na=False)


# Raw value counts of the real file (python csv module) -> the level each must become.
VP_EXPECTED: dict[str, dict[str, tuple[str, int]]] = {
    "IP_PayMoney": {"Yes": ("yes", 3_136), "No;Yes": ("yes", 944), "No": ("no", 11_075), "": ("not_asked", 6_040)},
    "IP_TransactionProcess": {"1": ("yes", 7_344), "": ("not_asked", 13_851)},
    "IP_ControlAbuseKidnap": {"1": ("yes", 2_078), "": ("not_asked", 19_117)},
    "IP_RecruiterBroker": {"1": ("yes", 11_865), "": ("unknown", 9_330)},
    "IP_Gender": {
        "Male": ("man", 9_820),
        "Female": ("woman", 3_515),
        "Female;Male": ("both", 2_452),
        "": ("unknown", 5_408),
    },
    "UN_COE_Region": {
        "Europe": ("europe", 6_432),
        "Asia": ("asia", 6_281),
        "Africa": ("africa", 4_271),
        "Americas/Oceania": ("americas_oceania", 212),
        "": ("unknown", 3_999),
    },
    "IP_ageBroad": {
        "0--29": ("under_30", 306),
        "30--38": ("30-38", 1_196),
        "39--47": ("39-47", 1_293),
        "48+": ("48+", 356),
        "": ("unknown", 17_993),
    },
}


@pytest.mark.parametrize("column", sorted(VP_FIELDS))
def test_vp_mapping_column_by_column(vp: Dataset, vp_raw: pd.DataFrame, column: str) -> None:
    """Each mapped column's raw values become the declared level, row by row, and never 'no' from an empty cell."""
    field_id = VP_FIELDS[column][0]
    raw, mapped = vp_raw[column], vp.frame[field_id]
    expected = VP_EXPECTED[column]
    for value, (level, count) in expected.items():
        rows = raw == value
        assert int(rows.sum()) == count, (column, value)
        assert (mapped[rows] == level).all(), (column, value, mapped[rows].value_counts().to_dict())
    listed = raw.isin(list(expected))
    if column == "IP_ageBroad":  # several perpetrators' ages: no one band
        assert raw[~listed].str.contains(";").all()
        assert (mapped[~listed] == "unknown").all()
    else:
        assert listed.all(), sorted(set(raw[~listed]))
    assert (mapped[raw == ""] != "no").all()
    assert set(mapped) <= set(load_questionnaire().field(field_id).levels)


def test_vp_relation_keeps_several_recruiters(vp: Dataset, vp_raw: pd.DataFrame) -> None:
    several = vp_raw["IP_Relation"].str.contains(";")
    assert int(several.sum()) == 667
    assert (vp.frame.loc[several, "recruiter_relation"] == "several").all()
    assert (vp.frame.loc[vp_raw["IP_Relation"] == "", "recruiter_relation"] == "unknown").all()


def test_export_v2024_layout(population: Factory, tmp_path: Path) -> None:
    frame = validate_frame(population(rows=3_000, seed=8))
    path = export_ctdc_v2024(frame, tmp_path / "ctdc.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert tuple(raw.columns) == CTDC_V2024_COLUMNS
    flags = [c for c in CTDC_V2024_COLUMNS if c.startswith(("means", "is", "typeOf", "recruiterRelation"))]
    for column in flags:
        assert set(raw[column]) <= {"1", ""}, column
    # A means* flag is 1 exactly when an indicator of its group is "yes".
    for column, indicators in means_groups().items():
        expected = (frame[indicators] == "yes").any(axis=1)
        assert ((raw[column] == "1") == expected).all(), column
    assert ((raw["isForcedLabour"] == "1") == (frame["is_labour"] == 1)).all()
    assert set(raw["traffickMonths"]) <= {*TRAFFICK_MONTHS_CTDC.values(), ""}
    assert set(raw["gender"]) <= {"Man", "Woman", "Trans/Transgender/NonConforming", ""}


def test_v2024_round_trip(population: Factory, tmp_path: Path) -> None:
    frame = validate_frame(population(rows=3_000, seed=8))
    first = export_ctdc_v2024(frame, tmp_path / "first.csv")
    dataset = load_dataset(first)
    assert dataset.layout == "ctdc-v2024"
    assert dataset.identified_victims_only
    loaded = dataset.frame
    # What v2024 holds comes back unchanged ...
    for column in ("gender", "age_band", "citizenship", "destination", "is_labour", "is_sexual", "year"):
        pd.testing.assert_series_equal(loaded[column], frame[column], check_names=True)
    for column, indicators in means_groups().items():
        primary, others = indicators[0], indicators[1:]
        expected = (frame[indicators] == "yes").any(axis=1).map({True: "yes", False: "not_asked"})
        assert (loaded[primary] == expected).all(), column
        assert (loaded[others] == "not_asked").all().all(), column
    # Indicators without a CTDC column come back not asked: nothing is invented.
    grouped = {i for indicators in means_groups().values() for i in indicators}
    unmapped = [i for i in load_questionnaire().indicator_ids if i not in grouped]
    assert unmapped
    assert (loaded[unmapped] == "not_asked").all().all()
    assert set(loaded["months_abroad"]) <= {"1_12", "13_24", "25_plus", "unknown"}
    assert (loaded.loc[frame["months_abroad"] == "none", "months_abroad"] == "1_12").all()
    assert (loaded["migrant_status"] == "unknown").all()
    assert "migrant_status" in dataset.missing_fields
    assert {"isOtherExploit", "typeOfSexProstitution"} <= set(dataset.unmapped_columns)
    # ... and exporting again gives the same bytes.
    second = export_ctdc_v2024(loaded, tmp_path / "second.csv")
    assert second.read_bytes() == first.read_bytes()


def _v2024_rows(rows: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{column: row.get(column, "") for column in CTDC_V2024_COLUMNS} for row in rows])


def test_v2024_reading_rules(tmp_path: Path) -> None:
    path = tmp_path / "v2024.csv"
    _v2024_rows(
        [
            {
                "gender": "Woman",
                "ageBroad": "18--20",
                "citizenship": "TJK",
                "CountryOfExploitation": "FRA",
                "traffickMonths": "13--24",
                "meansFalsePromises": "1",
                "meansExcessiveWorkHours": "1",
                "isSexualExploit": "1",
                "typeOfLabourHospitality": "1",
                "typeOfLabourDomesticWork": "1",
                "recruiterRelationFriend": "1",
                "yearOfRegistration": "2021",
            },
            {
                "gender": "Trans/Transgender/NonConforming",
                "traffickMonths": "25+ (2+ yrs)",
                "yearOfRegistration": "2020",
            },
        ]
    ).to_csv(path, index=False)
    dataset = load_dataset(path)
    first, second = dataset.frame.iloc[0], dataset.frame.iloc[1]
    assert first["gender"] == "woman"
    assert first["age_band"] == "18-20"
    assert first["destination"] == "OTH"  # a country outside the questionnaire's list
    assert first["months_abroad"] == "13_24"
    assert first["deceived_job_nature"] == "yes"  # primary indicator of meansFalsePromises
    assert first["deceived_wages"] == "not_asked"  # same CTDC column, not guessed
    assert first["excessive_hours"] == "yes"  # one-to-one
    assert first["sector"] == "unknown"  # two sector flags: ambiguous
    assert first["recruiter_relation"] == "friend"
    assert (first["is_labour"], first["is_sexual"]) == (0, 1)
    assert second["gender"] == "trans_nonconforming"
    assert second["months_abroad"] == "25_plus"
    assert second["deceived_job_nature"] == "not_asked"  # empty flag: not recorded, not "no"
    answers = dataset.frame[list(load_questionnaire().indicator_ids)]
    assert set(answers.to_numpy().ravel()) == {"yes", "not_asked"}  # never "no", never evidence from a blank
    assert any("an empty flag means the sign was not recorded" in note for note in dataset.notes)
    assert any("sector: 1 row(s) with several" in note for note in dataset.notes)


def test_v2024_zero_flags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "zeros.csv"
    _v2024_rows([{"gender": "Man", "meansThreats": "0", "yearOfRegistration": "2020"}]).to_csv(path, index=False)
    with pytest.raises(DataFormatError, match="column 'meansThreats': flags must be 1 or empty"):
        load_dataset(path)


def test_v2024_unknown_gender_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gender.csv"
    _v2024_rows([{"gender": "Female", "yearOfRegistration": "2020"}]).to_csv(path, index=False)
    with pytest.raises(FrameValidationError, match=r"CTDC column 'gender': value\(s\) \['Female'\] not recognised"):
        load_dataset(path)
