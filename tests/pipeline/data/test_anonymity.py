"""k-anonymity numbers on a small hand-made frame, and the ``anonymity-check`` command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.data.anonymity import anonymity_report
from pipeline.data.schema import write_frame


def _people() -> pd.DataFrame:
    """15 rows in three classes of sizes 11, 3 and 1 over the default quasi-identifiers."""
    rows = (
        [("man", "18-20", "TJK", "RUS")] * 11 + [("woman", "21-23", "TJK", "TUR")] * 3 + [("man", "48+", "AFG", "RUS")]
    )
    return pd.DataFrame(rows, columns=["gender", "age_band", "citizenship", "destination"])


def test_report_on_a_hand_made_frame() -> None:
    report = anonymity_report(_people())
    assert report["rows"] == 15
    assert report["k"] == 1
    assert report["smallest_group"] == {
        "gender": "man",
        "age_band": "48+",
        "citizenship": "AFG",
        "destination": "RUS",
    }
    assert report["groups"] == 3
    assert report["target_k"] == 11
    assert not report["satisfies_target"]
    assert report["groups_below_target"] == 2
    assert report["rows_suppressed"] == 4
    assert report["share_suppressed"] == pytest.approx(4 / 15)


def test_report_with_other_k_and_quasi_identifiers() -> None:
    assert anonymity_report(_people(), k=3)["rows_suppressed"] == 1
    assert anonymity_report(_people(), k=1)["satisfies_target"]
    by_citizenship = anonymity_report(_people(), quasi_identifiers=["citizenship"], k=2)
    assert by_citizenship["k"] == 1
    assert by_citizenship["smallest_group"] == {"citizenship": "AFG"}
    assert by_citizenship["groups"] == 2


def test_report_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"quasi-identifier\(s\) \['region'\] are not columns"):
        anonymity_report(_people(), quasi_identifiers=["gender", "region"])
    with pytest.raises(ValueError, match="k must be a whole number of at least 1"):
        anonymity_report(_people(), k=0)


def test_command_prints_the_table_and_exits_by_the_target(
    make_frame: Callable[..., pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = _people()
    frame = make_frame(len(people), **{c: people[c].tolist() for c in people.columns})
    path = write_frame(frame, tmp_path / "people.csv")
    assert main(["anonymity-check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "k of the data" in out
    assert "4 (26.7%)" in out
    assert main(["anonymity-check", str(path), "--k", "1"]) == 0
