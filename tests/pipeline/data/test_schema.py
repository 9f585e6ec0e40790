"""The Tarozu frame: validation errors, file layouts, round trips through files."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.questionnaire import load_questionnaire
from pipeline.data import schema
from pipeline.data.columns import DataFormatError, FrameValidationError, field_columns
from pipeline.data.formats import file_columns, read_table
from pipeline.data.schema import load_dataset, validate_frame, write_frame

Factory = Callable[..., pd.DataFrame]


def test_valid_frame_is_returned_in_canonical_form(make_frame: Factory) -> None:
    frame = make_frame(4, gender=pd.Series(["man", "woman", "unknown", "man"], dtype=object))
    frame = frame[frame.columns[::-1]]  # any column order is accepted
    frame["is_labour"] = frame["is_labour"].astype("int8")
    out = validate_frame(frame)
    assert list(out.columns) == [*field_columns(), "is_labour", "is_sexual"]
    assert all(out[c].dtype == "str" for c in field_columns())
    assert out["is_labour"].dtype == "int64"


def test_empty_frame_is_refused(make_frame: Factory) -> None:
    with pytest.raises(FrameValidationError, match=re.escape(schema.EMPTY_FRAME)):
        validate_frame(make_frame(0))


def test_unknown_category_names_column_and_allowed_values(make_frame: Factory) -> None:
    frame = make_frame(3, threats=["yes", "maybe", "no"], destination="FRA")
    with pytest.raises(FrameValidationError) as info:
        validate_frame(frame)
    message = str(info.value)
    assert "column 'threats': value(s) ['maybe'] not allowed" in message
    assert "allowed values are ['yes', 'no', 'dont_know', 'declined', 'not_asked']" in message
    assert "column 'destination': value(s) ['FRA']" in message
    assert str(list(load_questionnaire().field("destination").levels)) in message


def test_the_five_answers_are_accepted(make_frame: Factory) -> None:
    answers = ["yes", "no", "dont_know", "declined", "not_asked"]
    out = validate_frame(make_frame(5, threats=answers, isolation=answers[::-1]))
    assert out["threats"].tolist() == answers


def test_the_old_unknown_answer_is_refused_with_what_it_became(make_frame: Factory) -> None:
    frame = make_frame(3, threats=["yes", "unknown", "no"], isolation="unknown", gender="unknown")
    with pytest.raises(FrameValidationError) as info:
        validate_frame(frame)
    message = str(info.value)
    assert "['isolation', 'threats'] hold the answer 'unknown' (4 cell(s))" in message  # questionnaire order
    assert "questionnaire 2026.12 split it into 'dont_know'" in message
    assert "'not_asked' (the question was not put)" in message
    assert "Regenerate the data, or map each 'unknown' explicitly" in message
    assert len(message.splitlines()) == 2  # one problem, not one per column; gender's 'unknown' is fine
    # Beside another bad value of the same column, both are reported.
    with pytest.raises(FrameValidationError) as info:
        validate_frame(make_frame(2, threats=["unknown", "maybe"]))
    assert "['threats'] hold the answer 'unknown'" in str(info.value)
    assert "column 'threats': value(s) ['maybe'] not allowed" in str(info.value)


def test_an_old_file_with_unknown_answers_is_refused_on_loading(population: Factory, tmp_path: Path) -> None:
    path = write_frame(population(rows=200, seed=5), tmp_path / "old.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw["documents_withheld"] = raw["documents_withheld"].replace({"dont_know": "unknown", "not_asked": "unknown"})
    raw.to_csv(path, index=False)
    with pytest.raises(FrameValidationError, match=r"\['documents_withheld'\] hold the answer 'unknown'.*2026\.12"):
        load_dataset(path)


def test_wrong_type_names_column_and_expected_type(make_frame: Factory) -> None:
    frame = make_frame(2, is_labour=["yes", "no"], p_labour=["0.1", "x"], p_sexual=0.5)
    frame["true_labour"] = 0
    frame["true_sexual"] = 0
    with pytest.raises(FrameValidationError) as info:
        validate_frame(frame)
    message = str(info.value)
    assert "column 'is_labour': expected integers 0 or 1 (int64), found dtype" in message
    assert "column 'p_labour': expected probabilities from 0 to 1 (float64)" in message
    assert "pandera" not in message.lower()  # our words, not pandera's repr


def test_missing_required_column_is_named(make_frame: Factory) -> None:
    frame = make_frame(2).drop(columns=["isolation", "is_sexual"])
    with pytest.raises(FrameValidationError, match=r"missing required column\(s\) \['isolation', 'is_sexual'\]"):
        validate_frame(frame)


def test_unexpected_column_is_refused(make_frame: Factory) -> None:
    with pytest.raises(FrameValidationError, match=r"unexpected column\(s\) \['score'\]"):
        validate_frame(make_frame(2, score=1))


def test_missing_values_are_refused_with_the_fix(make_frame: Factory) -> None:
    with pytest.raises(FrameValidationError, match="column 'gender': 1 missing value"):
        validate_frame(make_frame(2, gender=["man", None]))


def test_out_of_range_and_unpaired_ground_truth(make_frame: Factory) -> None:
    with pytest.raises(FrameValidationError, match=r"column 'p_labour': value\(s\) \[1.5\]"):
        validate_frame(make_frame(2, p_labour=[0.5, 1.5], p_sexual=0.0))
    with pytest.raises(FrameValidationError, match="column 'true_labour' needs 'true_sexual' beside it"):
        validate_frame(make_frame(2, true_labour=0))


def test_observed_label_requires_true_label(make_frame: Factory) -> None:
    frame = make_frame(2, is_labour=[1, 0], true_labour=[0, 0], true_sexual=[0, 0])
    with pytest.raises(FrameValidationError, match="'is_labour' is 1 where 'true_labour' is 0 in 1 row"):
        validate_frame(frame)


def test_every_problem_is_reported_at_once(make_frame: Factory) -> None:
    frame = make_frame(2, threats="maybe", is_sexual=["a", "b"]).drop(columns=["region"])
    with pytest.raises(FrameValidationError) as info:
        validate_frame(frame)
    lines = str(info.value).splitlines()
    assert len(lines) == 4  # heading + three problems
    assert any("'region'" in line for line in lines)


# --------------------------------------------------------------------------- files


def test_empty_file_and_header_only_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FrameValidationError, match="is empty: there is nothing to load"):
        load_dataset(empty)
    header = tmp_path / "header.csv"
    header.write_text(",".join(file_columns().values()) + "\n")
    with pytest.raises(FrameValidationError, match=re.escape(schema.EMPTY_FRAME)):
        load_dataset(header)


def test_csv_cells_are_read_as_written() -> None:
    """Every cell as text: empty as "", leading zeros and "NA" kept, a byte order mark skipped, a line
    break inside quotes kept (Arrow's reader, the cells pandas' text reading gave)."""
    data = '\ufeffid,months,note\n1,012,\n2,NA,"two\nlines"\n'.encode()
    frame = read_table(data, name="x.csv")
    assert list(frame.columns) == ["id", "months", "note"]
    assert frame.to_dict("list") == {"id": ["1", "2"], "months": ["012", "NA"], "note": ["", "two\nlines"]}
    assert frame.equals(pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,b\n1,2\n3\n", "Expected 2 columns, got 1"),
        (b"a,b\n1,2,3\n", "Expected 2 columns, got 3"),
        (b"a,b,a\n1,2,3\n", "['a'] appear more than once"),
    ],
)
def test_a_csv_row_of_the_wrong_width_or_a_column_named_twice_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(DataFormatError, match=re.escape(message)):
        read_table(data, name="x.csv")


def test_unrecognised_layout_names_closest(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("gender,majorityStatus,isForcedLabour\nFemale,Adult,1\n")
    with pytest.raises(DataFormatError, match="match no layout Tarozu reads") as info:
        load_dataset(path)
    assert "Victim-Perpetrator" in str(info.value)
    assert "IP_Relation" in str(info.value)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"not a table")
    with pytest.raises(DataFormatError, match="cannot tell the format"):
        load_dataset(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_gives_the_identical_frame(population: Factory, tmp_path: Path, suffix: str) -> None:
    frame = validate_frame(population(rows=3_000, seed=5))
    path = write_frame(frame, tmp_path / f"sample{suffix}")
    dataset = load_dataset(path)
    pd.testing.assert_frame_equal(dataset.frame, frame, check_exact=True)
    assert dataset.source == "synthetic"
    assert dataset.has_ground_truth
    assert not dataset.identified_victims_only
    assert dataset.unmapped_columns == []
    assert dataset.missing_fields == []
    assert len(dataset.digest) == 64


def test_file_columns_use_ctdc_names_where_one_to_one(population: Factory, tmp_path: Path) -> None:
    path = write_frame(population(rows=500, seed=5), tmp_path / "sample.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    for ctdc_name in ("gender", "ageBroad", "citizenship", "CountryOfExploitation", "isForcedLabour"):
        assert ctdc_name in raw.columns
    for tarozu_id in ("age_band", "destination", "is_labour", "year"):
        assert tarozu_id not in raw.columns
    assert {"threats", "months_abroad", "sector", "p_labour", "group_id"} <= set(raw.columns)
    assert set(raw["gender"]) <= {"Man", "Woman", "Trans/Transgender/NonConforming", ""}
    assert raw["ageBroad"].str.fullmatch(r"(\d+--\d+|48\+|)").all()
    assert set(raw["isForcedLabour"]) <= {"0", "1"}


def test_unknown_code_in_a_tarozu_file_names_the_file_column(population: Factory, tmp_path: Path) -> None:
    path = write_frame(population(rows=200, seed=5), tmp_path / "sample.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw.loc[3, "CountryOfExploitation"] = "FRA"
    raw.to_csv(path, index=False)
    with pytest.raises(FrameValidationError, match=r"column 'CountryOfExploitation': value\(s\) \['FRA'\]"):
        load_dataset(path)


def test_wrong_type_and_missing_column_in_a_tarozu_file(population: Factory, tmp_path: Path) -> None:
    path = write_frame(population(rows=200, seed=5), tmp_path / "sample.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw["isForcedLabour"] = "yes"
    raw.drop(columns=["isolation"]).to_csv(path, index=False)
    with pytest.raises(FrameValidationError) as info:
        load_dataset(path)
    assert "missing required column(s) ['isolation']" in str(info.value)
    assert "column 'is_labour': expected integers 0 or 1" in str(info.value)


def test_extra_columns_of_a_tarozu_file_are_reported(population: Factory, tmp_path: Path) -> None:
    path = write_frame(population(rows=200, seed=5), tmp_path / "sample.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw["screening_site"] = "khujand"
    raw.to_csv(path, index=False)
    dataset = load_dataset(path)
    assert dataset.unmapped_columns == ["screening_site"]
    assert "screening_site" not in dataset.frame.columns


def test_field_file_without_ground_truth(make_frame: Factory, tmp_path: Path) -> None:
    path = write_frame(make_frame(3, gender="woman", year=2024), tmp_path / "field.parquet")
    dataset = load_dataset(path)
    assert dataset.source == "field"
    assert not dataset.has_ground_truth
    assert dataset.frame["gender"].tolist() == ["woman"] * 3
    assert dataset.frame["year"].dtype == np.int64


def test_a_frame_leaving_a_stage_is_checked_against_the_same_schema_and_names_the_stage(
    make_frame: Factory,
) -> None:
    good = validate_frame(make_frame(3))
    assert schema.check_stage_frame(good, stage="split (test)") is good
    assert schema.check_stage_frame(good.head(0), stage="split (test)").empty  # an empty split keeps its columns
    bad = good.assign(threats=["yes", "unknown", "no"])
    with pytest.raises(FrameValidationError, match=r"^split \(training rows\): the data does not fit") as info:
        schema.check_stage_frame(bad, stage="split (training rows)")
    assert "'unknown'" in str(info.value)
    with pytest.raises(FrameValidationError, match="is_sexual"):
        schema.check_stage_frame(good.drop(columns=["is_sexual"]), stage="split (test)")
    # A stage must hand on canonical types: no silent conversion here, unlike validate_frame on loading.
    with pytest.raises(FrameValidationError, match="is_labour"):
        schema.check_stage_frame(good.assign(is_labour=good["is_labour"].astype("int8")), stage="fit")
