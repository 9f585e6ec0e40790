"""The Tarozu frame: its schema, validation, and the loading and writing of data files.

The canonical in-memory frame has one row per screened person:

- one string column per questionnaire field (indicators, context, monitoring), holding a level
  of :attr:`Field.levels`: an indicator holds one of the five answers (``yes``, ``no``,
  ``dont_know``, ``declined``, ``not_asked``), a context or audit field one of its values or
  ``"unknown"`` (not recorded); ``months_abroad`` holds its bin;
- the observed labels ``is_labour`` and ``is_sexual`` (int 0/1);
- optionally the synthetic ground truth ``true_labour``, ``true_sexual`` (int 0/1) and
  ``p_labour``, ``p_sexual`` (the generator's exact probabilities), ``group_id`` (int,
  household or case, for grouped splits; not an identifier) and ``year`` (int).

:func:`validate_frame` checks it with pandera and turns every failure into one readable
message; :func:`load_dataset` reads Tarozu files and the CTDC layouts into it, after the PII
guard; :func:`write_frame` and :func:`export_ctdc_v2024` write it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from models.questionnaire import UNKNOWN, load_questionnaire
from pipeline.data import ctdc, formats
from pipeline.data.columns import (
    FLOAT_COLUMNS,
    GROUP_COLUMN,
    INTEGER_COLUMNS,
    LABEL_COLUMNS,
    OPTIONAL_COLUMNS,
    PROBABILITY_COLUMNS,
    TRUTH_COLUMNS,
    YEAR_COLUMN,
    DataFormatError,
    FrameValidationError,
    canonical_order,
    field_columns,
    fields,
    required_columns,
)
from pipeline.data.frames import pa, pa_errors
from pipeline.data.pii import check_no_identifiers

EMPTY_FRAME = "the data has no rows: a Tarozu frame needs at least one screened person"
EMPTY_FILE = "{path!r} is empty: there is nothing to load"
INVALID_FRAME = "the data does not fit the Tarozu frame:\n  - {problems}"
MISSING_COLUMNS = (
    "missing required column(s) {columns}: a Tarozu frame holds every questionnaire field "
    "(a question not put as 'not_asked', a field not recorded as 'unknown') and the labels "
    "is_labour, is_sexual"
)
UNEXPECTED_COLUMNS = (
    "unexpected column(s) {columns}: besides the questionnaire fields and labels a Tarozu frame "
    "may hold only {optional}"
)
BAD_TYPE = "column {column!r}: expected {expected}, found dtype {found} (for example {values})"
BAD_CATEGORY = "column {column!r}: value(s) {values} not allowed; allowed values are {allowed}"
MISSING_VALUES = (
    "column {column!r}: {count} missing value(s); allowed values are {allowed} "
    "(a question not put is 'not_asked' and a field not recorded is 'unknown', not empty)"
)
OLD_UNKNOWN_ANSWER = (
    "indicator column(s) {columns} hold the answer 'unknown' ({count} cell(s)), which no longer "
    "exists: questionnaire 2026.12 split it into 'dont_know' (the question was asked and the "
    "person does not know) and 'not_asked' (the question was not put). Regenerate the data, "
    "or map each 'unknown' explicitly to one of the two (they mean different things to the model)"
)
BAD_VALUE = "column {column!r}: value(s) {values} not allowed; expected {expected}"
UNPAIRED = "column {present!r} needs {missing!r} beside it"
LABEL_WITHOUT_TRUTH = (
    "column {label!r} is 1 where {truth!r} is 0 in {count} row(s): an identified victim is a true victim"
)
UNKNOWN_LAYOUT = (
    "{path!r}: its columns match no layout Tarozu reads (a Tarozu file, {layouts}). "
    "Closest is {closest}, which lacks {missing}"
)

YEAR_RANGE = (1900, 2100)
MAX_EXAMPLES = 8
MAX_LISTED = 30
LAYOUT_TAROZU = "tarozu"
LAYOUT_V2024 = "ctdc-v2024"
LAYOUT_VP = "ctdc-vp-condensed"


@dataclass(frozen=True)
class ColumnSpec:
    """What a column must hold, in words and as allowed values (``None``: any in range)."""

    expected: str
    allowed: tuple[object, ...] | None


@cache
def column_specs() -> dict[str, ColumnSpec]:
    """Every column the frame may hold, in canonical order."""
    specs = {f.id: ColumnSpec("text (a level of the questionnaire field)", f.levels) for f in fields()}
    for column in (*LABEL_COLUMNS, *TRUTH_COLUMNS):
        specs[column] = ColumnSpec("integers 0 or 1 (int64)", (0, 1))
    for column in PROBABILITY_COLUMNS:
        specs[column] = ColumnSpec("probabilities from 0 to 1 (float64)", None)
    specs[GROUP_COLUMN] = ColumnSpec("non-negative integers (int64)", None)
    specs[YEAR_COLUMN] = ColumnSpec(f"years from {YEAR_RANGE[0]} to {YEAR_RANGE[1]} (int64)", None)
    return specs


@cache
def frame_schema() -> pa.DataFrameSchema:
    """The pandera schema of the Tarozu frame (strict: no other columns)."""
    columns: dict[str, pa.Column] = {}
    for f in fields():
        columns[f.id] = pa.Column(str, pa.Check.isin(list(f.levels)), nullable=False)
    for column in (*LABEL_COLUMNS, *TRUTH_COLUMNS):
        columns[column] = pa.Column("int64", pa.Check.isin([0, 1]), nullable=False, required=column in LABEL_COLUMNS)
    for column in PROBABILITY_COLUMNS:
        columns[column] = pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=False, required=False)
    columns[GROUP_COLUMN] = pa.Column("int64", pa.Check.ge(0), nullable=False, required=False)
    columns[YEAR_COLUMN] = pa.Column("int64", pa.Check.in_range(*YEAR_RANGE), nullable=False, required=False)
    return pa.DataFrameSchema(columns, strict=True, name="Tarozu frame")


def _harmonise(df: pd.DataFrame) -> pd.DataFrame:
    """Store equivalent dtypes one way: text as ``str``, integers as int64, floats as float64."""
    out = df.copy()
    for column in field_columns():
        if column not in out.columns:
            continue
        series = out[column]
        if pd.api.types.is_object_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
            present = series.dropna()
            if present.map(lambda v: isinstance(v, str)).all():
                out[column] = series.astype("str")
    for column in INTEGER_COLUMNS:
        if column in out.columns:
            series = out[column]
            if pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
                out[column] = series.astype("int64")
    for column in FLOAT_COLUMNS:
        if column in out.columns:
            series = out[column]
            if pd.api.types.is_float_dtype(series) or pd.api.types.is_integer_dtype(series):
                out[column] = series.astype("float64")
    return out


def _plain(value: object) -> object:
    """A value as shown in messages: numpy scalars as Python ones, unhashables as text."""
    if hasattr(value, "item"):
        value = value.item()
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _examples(values: pd.Series) -> list[object]:
    return list(dict.fromkeys(_plain(v) for v in values.dropna()))[:MAX_EXAMPLES]


def _describe(failures: pd.DataFrame, df: pd.DataFrame) -> list[str]:
    """One line per failing column, from pandera's table of failure cases."""
    specs = column_specs()
    problems: list[str] = []
    missing = failures.loc[failures["check"] == "column_in_dataframe", "failure_case"].tolist()
    if missing:
        problems.append(MISSING_COLUMNS.format(columns=[str(c) for c in missing]))
    unexpected = failures.loc[failures["check"] == "column_in_schema", "failure_case"].tolist()
    if unexpected:
        problems.append(
            UNEXPECTED_COLUMNS.format(columns=[str(c) for c in unexpected], optional=list(OPTIONAL_COLUMNS))
        )
    per_column = failures[failures["column"].notna()]
    problems.extend(_old_unknown_answers(df))
    for column in [c for c in specs if c in set(per_column["column"])]:
        spec = specs[column]
        allowed = list(spec.allowed) if spec.allowed is not None else None
        rows = per_column[per_column["column"] == column]
        checks = rows["check"].astype(str)
        if checks.str.startswith("dtype(").any():
            problems.append(
                BAD_TYPE.format(
                    column=column,
                    expected=spec.expected,
                    found=df[column].dtype,
                    values=_examples(df[column]),
                )
            )
            continue
        if (checks == "not_nullable").any():
            count = int(df[column].isna().sum())
            problems.append(MISSING_VALUES.format(column=column, count=count, allowed=allowed or spec.expected))
        bad = rows.loc[checks != "not_nullable", "failure_case"]
        if column in _indicator_ids():
            bad = bad[bad != UNKNOWN]  # reported once for all indicators, above
        if len(bad):
            if allowed is not None:
                problems.append(BAD_CATEGORY.format(column=column, values=_examples(bad), allowed=allowed))
            else:
                problems.append(BAD_VALUE.format(column=column, values=_examples(bad), expected=spec.expected))
    return problems


@cache
def _indicator_ids() -> tuple[str, ...]:
    return load_questionnaire().indicator_ids


def _old_unknown_answers(df: pd.DataFrame) -> list[str]:
    """The one problem of data written before the answer 'unknown' was split, if it is that."""
    old = {c: int((df[c] == UNKNOWN).sum()) for c in _indicator_ids() if c in df.columns}
    old = {c: n for c, n in old.items() if n}
    if not old:
        return []
    columns = list(old)[:MAX_LISTED] + (["..."] if len(old) > MAX_LISTED else [])
    return [OLD_UNKNOWN_ANSWER.format(columns=columns, count=sum(old.values()))]


def _consistency(df: pd.DataFrame) -> list[str]:
    problems = []
    for pair in (TRUTH_COLUMNS, PROBABILITY_COLUMNS):
        for present, missing in (pair, pair[::-1]):
            if present in df.columns and missing not in df.columns:
                problems.append(UNPAIRED.format(present=present, missing=missing))
    if set(TRUTH_COLUMNS) <= set(df.columns):
        for label, truth in zip(LABEL_COLUMNS, TRUTH_COLUMNS, strict=True):
            count = int(((df[label] == 1) & (df[truth] == 0)).sum())
            if count:
                problems.append(LABEL_WITHOUT_TRUTH.format(label=label, truth=truth, count=count))
    return problems


def validate_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the Tarozu frame and return it in canonical form.

    Canonical form: columns in canonical order, text as pandas ``str``, integers int64,
    probabilities float64. Every problem found is reported at once, one line per column.

    Raises
    ------
    FrameValidationError
        If the frame is empty, lacks a required column, has an unexpected column, or a
        column has the wrong type, a value outside its allowed levels or a missing value.
    """
    if len(df) == 0:
        raise FrameValidationError(EMPTY_FRAME)
    work = _harmonise(df)
    try:
        frame_schema().validate(work, lazy=True)
    except pa_errors.SchemaErrors as exc:
        problems = _describe(exc.failure_cases, work)
        if not problems:  # a failure this module does not know how to word
            problems = [str(check) for check in exc.failure_cases["check"].unique()]
        raise FrameValidationError(INVALID_FRAME.format(problems="\n  - ".join(problems))) from None
    problems = _consistency(work)
    if problems:
        raise FrameValidationError(INVALID_FRAME.format(problems="\n  - ".join(problems)))
    return work[canonical_order(list(work.columns))]


def check_stage_frame(df: pd.DataFrame, *, stage: str) -> pd.DataFrame:
    """``df`` as it leaves ``stage``: still a Tarozu frame, in canonical types (no conversion here).

    The same pandera schema as :func:`validate_frame`; an empty frame passes if its columns do.
    Raises FrameValidationError naming the stage, so a stage that breaks the frame (a cut
    interview writing a level the questionnaire lacks, a column lost) is found where it happens.
    """
    try:
        frame_schema().validate(df, lazy=True)
    except pa_errors.SchemaErrors as exc:
        problems = _describe(exc.failure_cases, df) or [str(c) for c in exc.failure_cases["check"].unique()]
        raise FrameValidationError(f"{stage}: " + INVALID_FRAME.format(problems="\n  - ".join(problems))) from None
    problems = _consistency(df)
    if problems:
        raise FrameValidationError(f"{stage}: " + INVALID_FRAME.format(problems="\n  - ".join(problems)))
    return df


@dataclass(frozen=True)
class Dataset:
    """A validated Tarozu frame with where it came from and what its source could not give.

    Attributes
    ----------
    frame : validated canonical frame.
    source : ``"synthetic"`` (Tarozu file with ground truth), ``"ctdc"`` or ``"field"``.
    identified_victims_only : True for CTDC files: they hold no non-victims, so label 0
        means "not recorded as this type", and prevalence cannot be estimated from them.
    has_ground_truth : the frame has ``true_labour``/``true_sexual``.
    unmapped_columns : source columns with no Tarozu equivalent (reported, not guessed).
    missing_fields : Tarozu fields the source cannot provide, set to "unknown" everywhere.
    digest : sha256 of the file bytes.
    path : the file read.
    layout : ``"tarozu"``, ``"ctdc-v2024"`` or ``"ctdc-vp-condensed"``.
    notes : mapping decisions and ambiguities found in this file.
    """

    frame: pd.DataFrame
    source: str
    identified_victims_only: bool
    has_ground_truth: bool
    unmapped_columns: list[str]
    missing_fields: list[str]
    digest: str
    path: Path
    layout: str = LAYOUT_TAROZU
    notes: list[str] = field(default_factory=list)


def _layout(columns: list[str], path: Path) -> str:
    present = set(columns)
    if formats.is_tarozu_file(present):
        return LAYOUT_TAROZU
    if set(ctdc.CTDC_V2024_COLUMNS) <= present:
        return LAYOUT_V2024
    if set(ctdc.VP_CONDENSED_COLUMNS) <= present:
        return LAYOUT_VP
    candidates = {
        "a Tarozu file": list(formats.file_columns().values())[: len(required_columns())],
        "the CTDC v2024 Global Synthetic Dataset (27 columns)": list(ctdc.CTDC_V2024_COLUMNS),
        "the CTDC Victim-Perpetrator condensed file (16 columns)": list(ctdc.VP_CONDENSED_COLUMNS),
    }
    closest = max(candidates, key=lambda name: len(present & set(candidates[name])) / len(candidates[name]))
    lacking = [c for c in candidates[closest] if c not in present]
    raise DataFormatError(
        UNKNOWN_LAYOUT.format(
            path=str(path),
            layouts=", ".join(list(candidates)[1:]),
            closest=closest,
            missing=lacking[:MAX_LISTED] + (["..."] if len(lacking) > MAX_LISTED else []),
        )
    )


def load_dataset(path: str | Path) -> Dataset:
    """Read a Tarozu file (CSV or Parquet) or a CTDC file into a validated :class:`Dataset`.

    The layout is told from the columns. The PII guard runs on the raw table first, then the
    table is mapped to the frame, then validated.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.strip():
        raise FrameValidationError(EMPTY_FILE.format(path=str(path)))
    digest = hashlib.sha256(data).hexdigest()
    raw = formats.read_table(data, name=path.name)
    raw.columns = [str(c) for c in raw.columns]
    check_no_identifiers(raw)
    layout = _layout(list(raw.columns), path)
    if layout == LAYOUT_TAROZU:
        known = set(formats.file_columns().values())
        unmapped = [c for c in raw.columns if c not in known]
        frame = validate_frame(formats.from_file_frame(raw.drop(columns=unmapped)))
        has_truth = set(TRUTH_COLUMNS) <= set(frame.columns)
        return Dataset(
            frame=frame,
            source="synthetic" if has_truth else "field",
            identified_victims_only=False,
            has_ground_truth=has_truth,
            unmapped_columns=unmapped,
            missing_fields=[],
            digest=digest,
            path=path,
            layout=layout,
        )
    mapped = ctdc.from_v2024(raw) if layout == LAYOUT_V2024 else ctdc.from_vp_condensed(raw)
    return Dataset(
        frame=validate_frame(mapped.frame),
        source="ctdc",
        identified_victims_only=True,
        has_ground_truth=False,
        unmapped_columns=mapped.unmapped_columns,
        missing_fields=mapped.missing_fields,
        digest=digest,
        path=path,
        layout=layout,
        notes=mapped.notes,
    )


def write_frame(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate ``df`` and write it as a Tarozu file, CSV or Parquet by extension.

    Columns with a one-to-one CTDC v2024 equivalent take the CTDC name and coding (see
    :mod:`pipeline.data.formats`); :func:`load_dataset` reads the file back to the same frame.
    """
    frame = validate_frame(df)
    check_no_identifiers(frame)
    return formats.write_table(formats.to_file_frame(frame), path)


def export_ctdc_v2024(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate ``df`` and write it in the CTDC v2024 layout (27 columns, flags 1 or empty).

    Lossy: see :func:`pipeline.data.ctdc.to_v2024`.
    """
    frame = validate_frame(df)
    check_no_identifiers(frame)
    return formats.write_table(ctdc.to_v2024(frame), path)
