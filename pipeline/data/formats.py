"""Tarozu data files on disk: column naming and coding, raw reading and writing.

A Tarozu file holds the canonical frame, with CTDC names wherever a CTDC v2024 column holds
the same information, so that CTDC tools read the shared columns:

- ``gender``, ``age_band``, ``citizenship``, ``destination`` are written as the CTDC columns
  ``gender``, ``ageBroad``, ``citizenship``, ``CountryOfExploitation`` with CTDC coding
  (``Man``/``Woman``/``Trans/Transgender/NonConforming``, ``18--20``, ISO alpha-3 with
  ``OTH`` for any other country, empty for unknown);
- ``is_labour``, ``is_sexual``, ``year`` are written as ``isForcedLabour``,
  ``isSexualExploit``, ``yearOfRegistration``, with labels 0/1 (not CTDC's 1/empty: a
  Tarozu file knows who is not a victim);
- every other column keeps its Tarozu id and level names (indicators have five answers,
  ``yes``, ``no``, ``dont_know``, ``declined``, ``not_asked``, and ``months_abroad`` has a
  ``none`` bin, which CTDC columns cannot hold).

Nothing here validates: :mod:`pipeline.data.schema` validates after reading and before
writing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from models.questionnaire import load_questionnaire
from pipeline.data.columns import FLOAT_COLUMNS, INTEGER_COLUMNS, YEAR_COLUMN, DataFormatError
from pipeline.data.ctdc import LABEL_CTDC, YEAR_CTDC, coded_fields, decode_levels, encode_levels

if TYPE_CHECKING:
    import pyarrow as pa

CSV_SUFFIXES: tuple[str, ...] = (".csv",)
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
UNSUPPORTED_SUFFIX = "cannot tell the format of {path!r} from its extension: use one of {suffixes}"


def file_columns() -> dict[str, str]:
    """Canonical column -> column name in Tarozu files (identity where not renamed)."""
    renamed = {**coded_fields(), **LABEL_CTDC, YEAR_COLUMN: YEAR_CTDC}
    names = [f.id for f in load_questionnaire().all_fields] + list(LABEL_CTDC) + list(INTEGER_COLUMNS)
    names += list(FLOAT_COLUMNS)
    return {name: renamed.get(name, name) for name in dict.fromkeys(names)}


def is_tarozu_file(columns: Iterable[object]) -> bool:
    """True if the columns carry Tarozu indicator ids, i.e. the file is a Tarozu file."""
    return bool(set(map(str, columns)) & set(load_questionnaire().indicator_ids))


def to_file_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table written for a (validated) canonical frame."""
    out = df.copy()
    for field_id in coded_fields():
        if field_id in out.columns:
            out[field_id] = encode_levels(field_id, out[field_id])
    return out.rename(columns=file_columns())


def _numeric(series: pd.Series, *, integer: bool) -> pd.Series:
    """Parse a column read as text; leave it as read if it does not parse (validation reports it)."""
    if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
        return series
    text = series.astype("str").str.strip()
    if integer:
        return text.astype("int64") if bool(text.str.fullmatch(r"-?\d+").all()) else series
    try:
        return pd.to_numeric(text).astype("float64")
    except (ValueError, TypeError):
        return series


def from_file_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The canonical (not yet validated) frame of a table read from a Tarozu file."""
    to_canonical = {file: canonical for canonical, file in file_columns().items()}
    out = raw.rename(columns=to_canonical)
    for field_id, column in coded_fields().items():
        if field_id in out.columns:
            out[field_id] = decode_levels(field_id, out[field_id], column=column, countries_to_other=False)
    for column in INTEGER_COLUMNS:
        if column in out.columns:
            out[column] = _numeric(out[column], integer=True)
    for column in FLOAT_COLUMNS:
        if column in out.columns:
            out[column] = _numeric(out[column], integer=False)
    return out


def is_csv(name: str | Path) -> bool:
    """Whether a file of this name is CSV (else Parquet); refuses any other extension, naming those it takes."""
    suffix = Path(name).suffix.lower()
    if suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise DataFormatError(UNSUPPORTED_SUFFIX.format(path=str(name), suffixes=[*CSV_SUFFIXES, *PARQUET_SUFFIXES]))
    return suffix in CSV_SUFFIXES


def read_table(data: bytes, *, name: str) -> pd.DataFrame:
    """Read CSV (:func:`read_csv_text`) or Parquet bytes; ``name`` gives the format."""
    if is_csv(name):
        return read_csv_text(data, name=name).to_pandas()
    return pd.read_parquet(io.BytesIO(data))


def read_csv_text(data: bytes, *, name: str) -> pa.Table:
    """CSV bytes as an Arrow table of text: every cell as written (an empty cell is "", never missing),
    a UTF-8 byte order mark skipped, line breaks inside quotes kept. Read by Arrow's parallel reader
    (5x faster than pandas' on 300,000 rows); a row with more or fewer cells than the header, or a
    column named twice, is refused with the reason."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = _csv_header(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""), name)
    try:
        return pacsv.read_csv(pa.BufferReader(data), **_csv_options(names))
    except pa.ArrowInvalid as exc:  # e.g. "CSV parse error: Expected 5 columns, got 4: ..."
        raise DataFormatError(f"{name}: {exc}") from None


def read_csv_header(path: Path) -> list[str]:
    """The column names of the CSV file at ``path`` (its first row, as :func:`read_csv_text` reads it)."""
    with path.open(encoding="utf-8-sig", newline="") as text:
        return _csv_header(text, path.name)


def stream_csv_text(path: Path, *, header: list[str], columns: list[str], block_bytes: int) -> Iterator[pa.RecordBatch]:
    """:func:`read_csv_text` of the file at ``path`` (its ``header``: :func:`read_csv_header`), only its
    ``columns``, as record batches read a block of about ``block_bytes`` at a time (Arrow's streaming
    reader) as they are taken: a file larger than memory is read through. A row refused in a later
    block stops the reading there, with the reason."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = _csv_options(header)
    options["convert_options"].include_columns = columns
    try:
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=block_bytes), **options) as reader:
            yield from reader
    except pa.ArrowInvalid as exc:  # e.g. "CSV parse error: Expected 5 columns, got 4: ..."
        raise DataFormatError(f"{path.name}: {exc}") from None


def _csv_header(text: Iterable[str], name: str) -> list[str]:
    """The column names of a CSV file's first row; refuses an empty file and a column named twice."""
    try:
        names = next(csv.reader(text))
    except StopIteration:
        raise DataFormatError(f"{name}: the CSV file is empty (no header row)") from None
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataFormatError(f"{name}: column(s) {twice} appear more than once in the header; name each column once")
    return names


def _csv_options(names: list[str]) -> dict[str, Any]:
    """Arrow's options that read every cell of a CSV file as written text, line breaks inside quotes kept."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return {
        "parse_options": pacsv.ParseOptions(newlines_in_values=True),
        "convert_options": pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    }


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as CSV (LF line ends, no index) or Parquet, chosen by the extension."""
    path = Path(path)
    csv_file = is_csv(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if csv_file:
        table.to_csv(path, index=False, lineterminator="\n")
    else:
        table.to_parquet(path, index=False)
    return path
