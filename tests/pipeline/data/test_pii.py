"""The PII guard refuses identifiers by column name and by content, before anything else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipeline.data.formats import file_columns
from pipeline.data.pii import (
    IdentifierError,
    check_no_identifiers,
    find_free_text_columns,
    find_identifier_columns,
)
from pipeline.data.schema import load_dataset, write_frame

IDENTIFIER_NAMES = [
    "name",
    "first_name",
    "Surname",
    "fullName",
    "passport_no",
    "PassportNumber",
    "phone",
    "mobile_phone",
    "e_mail",
    "email",
    "home_address",
    "dob",
    "dateOfBirth",
    "birth_date",
    "national_id",
    "NationalID",
    "notes",
    "comments",
    "narrative",
    "description",
    "case_ref",
    "CaseReference",
    "case_id",
]
HARMLESS_NAMES = [
    "destination",
    "CountryOfExploitation",
    "recruiterRelationFamily",
    "IP_Relation",
    "group_id",
    "yearOfRegistration",
    "deceived_job_nature",
    "majorityStatus",
]


@pytest.mark.parametrize("column", IDENTIFIER_NAMES)
def test_identifier_names_are_refused(column: str) -> None:
    assert find_identifier_columns(["gender", column]) == [column]
    with pytest.raises(IdentifierError, match=r"refusing data with direct identifiers in column\(s\)"):
        check_no_identifiers(["gender", column])


def test_harmless_names_pass() -> None:
    assert find_identifier_columns(HARMLESS_NAMES) == []
    assert find_identifier_columns(file_columns().values()) == []
    check_no_identifiers(HARMLESS_NAMES)


def test_identifier_like_content_under_any_name() -> None:
    n = 60
    frame = pd.DataFrame(
        {
            "col_a": [f"Firuza Rahimova {i}" for i in range(n)],  # names
            "col_b": [f"+992 93 555 {1000 + i}" for i in range(n)],  # formatted phone numbers
            "col_c": ["The recruiter took her passport at the border and kept it"] * n,  # free text
            "col_d": ["yes", "no", "not_asked"] * (n // 3),  # a coded answer
            "col_e": [f"{i / n:.6f}" for i in range(n)],  # numbers as text
        }
    )
    assert find_free_text_columns(frame) == ["col_a", "col_b", "col_c"]
    with pytest.raises(IdentifierError, match=r"look like identifiers or free text"):
        check_no_identifiers(frame)
    check_no_identifiers(frame[["col_d", "col_e"]])


def test_loader_runs_the_guard_first(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("passport,gender,isForcedLabour\nA1234567,Female,1\n")
    with pytest.raises(IdentifierError, match=r"\['passport'\]"):
        load_dataset(path)  # refused as PII, not as an unknown layout


def test_nothing_is_written_when_data_holds_identifiers(
    make_frame: Callable[..., pd.DataFrame], tmp_path: Path
) -> None:
    frame = make_frame(3, full_name=["A B", "C D", "E F"])
    out = tmp_path / "out.csv"
    with pytest.raises(ValueError, match="full_name"):
        write_frame(frame, out)
    assert not out.exists()
