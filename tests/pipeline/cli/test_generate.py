"""``tarozu generate`` writes the file it says, in the format asked, and reports errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.data.ctdc import CTDC_V2024_COLUMNS
from pipeline.data.schema import load_dataset
from pipeline.data.synthetic import generate


def test_generate_writes_a_tarozu_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "population.parquet"
    assert main(["generate", "--rows", "1500", "--seed", "4", "--out", str(out)]) == 0
    summary = capsys.readouterr().out.strip()
    assert summary.startswith("1,500 rows (scenario default, seed 4): labour ")
    assert "observed /" in summary
    assert summary.endswith(f"-> {out} (tarozu)")
    dataset = load_dataset(out)
    expected = generate(rows=1500, seed=4)
    pd.testing.assert_frame_equal(dataset.frame, expected, check_exact=True)


def test_generate_in_ctdc_layout(tmp_path: Path) -> None:
    out = tmp_path / "ctdc.csv"
    assert main(["generate", "--rows", "300", "--seed", "4", "--out", str(out), "--format", "ctdc-v2024"]) == 0
    assert tuple(pd.read_csv(out, nrows=1).columns) == CTDC_V2024_COLUMNS


def test_generate_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.csv"
    assert main(["generate", "--rows", "10", "--scenario", "nope", "--out", str(out)]) == 2
    assert "unknown scenario 'nope': allowed scenarios are" in capsys.readouterr().err
    assert main(["generate", "--rows", "0", "--out", str(out)]) == 2
    assert "--rows must be at least 1" in capsys.readouterr().err
    assert main(["generate", "--rows", "10", "--out", str(tmp_path / "x.json")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    assert not out.exists()
