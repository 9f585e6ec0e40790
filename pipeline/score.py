"""``tarozu score``: bulk scoring of a file of cases, on one machine or on Spark, recorded in the audit log.

Programmes score whole registers (returnee databases, a year of intake forms) for planning and
audit. Each row gets what the MLflow pyfunc and ``/invocations`` give a case: per outcome the
probability, interval, band, explanation and top reasons, and the referral tier
(``referral_tier``, empty while the case is not settled; ``leaning_tier`` says where it points).
The output's ``row`` is the input row's number (1-based, the header not counted).

- ``--engine local`` (default) reads CSV or Parquet (a file, or a directory of Parquet files) and
  scores in vectorised chunks (:class:`models.bulk.BulkScorer`) with a progress bar. The input is
  read a batch at a time (:func:`open_register`), each batch's columns as their distinct cells and
  which one each row holds (Arrow dictionaries): a distinct cell is checked, decoded and encoded
  once in the whole run (:class:`CellCodes`), and a batch's codes go to the scoring while the next
  batch is read, so a register larger than memory can be scored. The output is written by Arrow as
  the chunks come back (:class:`ScoresFile`), the texts decoded from their categories; a test
  holds it to what the per-frame pandas path wrote.
  ``--workers`` (default: one per CPU the process may use) sets how many worker processes
  score the chunks of a large file; each builds its engine from the same model, and the
  output is the same with any number of them.
- ``--engine spark`` reads Parquet (a file or a directory, on any filesystem Spark reads) on a
  Spark session (``--spark-master``; default spark-submit's master, else ``local[*]``) or through
  Spark Connect (``sc://`` or ``SPARK_REMOTE``), and scores with ``mlflow.pyfunc.spark_udf`` of the
  same registered model, whose pyfunc runs the same scorer: both engines give the same values.

Input is a Tarozu file (:mod:`pipeline.data.formats`: questionnaire field ids, the CTDC names
of the coded context fields; labels and the optional columns may be there and are ignored).
Every field the model uses must be present. A cell that is not one of its field's levels stops
the run with the row and column named, and nothing is written. A file that carries a
screener's assessment or a case reference is refused: bulk scoring is not screening (the rule
and words of the API's ``:batch``).

Bulk scoring stays auditable: each run appends one ``bulk_scorings`` row to the audit
database's hash chain (``--database-url``, default ``TAROZU_DATABASE_URL``): who
(``cli:<operator>``, the ``--operator`` label, default the OS user name; nothing about the
people scored), when, the model name and version, the questionnaire version, the row count
and the SHA-256 of the input. The row is appended after the input was checked and scored and
before the output appears at its path (the local engine writes it under a hidden name beside it
meanwhile), so no output exists without its record. A withdrawn model version (the stop
procedure) is refused.
"""

from __future__ import annotations

import argparse
import getpass
import glob
import hashlib
import logging
import os
import posixpath
import re
import socket
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

from models.bulk import CHUNK_ROWS, BulkScorer, FlatColumns, encode_frame, encode_values, flat_names
from models.engine import ScreeningEngine
from models.interview import RULE as OUTLOOK_RULE
from models.questionnaire import load_questionnaire
from pipeline.data.columns import LABEL_COLUMNS, OPTIONAL_COLUMNS
from pipeline.data.ctdc import coded_fields, decode_levels, level_codes
from pipeline.data.formats import (
    PARQUET_SUFFIXES,
    file_columns,
    from_file_frame,
    is_csv,
    read_csv_header,
    read_table,
    stream_csv_text,
    write_table,
)
from pipeline.data.pii import check_no_identifiers
from pipeline.errors import CommandError
from serving import registry
from serving.auditlog.database import make_engine, run_migrations
from serving.auditlog.model_events import load_withdrawals
from serving.auditlog.writer import AppendBulkScoring, AuditWriter
from serving.bulk import BULK_NOT_SCREENING, BULK_ONLY_FIELDS
from serving.settings import database_url as default_url

DEFAULT_MODEL = "models:/tarozu-screening@champion"
ENGINES = ("local", "spark")
ROUTES = {"local": "score-local", "spark": "score-spark"}
"""The ``route`` of the audit row: which engine scored (beside the API's ``batch``, ``invocations``)."""
ROLE = "data-scientist"
"""Bulk scoring is the data scientists' (as on the API); the operator label says who ran it."""
KEY_PREFIX = "cli:"
MAX_OPERATOR = 32 - len(KEY_PREFIX)
ROW = "row"
PII_SAMPLE = 20_000
"""Rows whose content the PII guard reads (column names are always checked)."""
READ_ROWS = 50_000
"""Rows of the input read, checked and encoded at a time (a Parquet row group may end a batch sooner)."""
CSV_BLOCK = 1 << 20
"""Bytes of a CSV file parsed at a time (about 2,000 rows of a Tarozu file; Arrow parses a few blocks
ahead, so the block bounds what the reading holds); blocks are joined into batches of :data:`READ_ROWS`.
A block must hold the header and any one row whole."""

BAD_OPERATOR = (
    "--operator {operator!r}: an operator label of 1 to {max} letters, digits or . _ - (who ran the "
    "bulk scoring, for the audit log; never a screened person's name)"
)
BAD_CELL = (
    "row {row}, column {column!r}: value {value!r} is not allowed; allowed values are {allowed}. "
    "Nothing was written or recorded"
)
MISSING_FIELDS = (
    "the input lacks column(s) {columns} that the model uses: a Tarozu file holds every questionnaire "
    "field (a question not put as 'not_asked', a field not recorded as 'unknown')"
)
UNKNOWN_COLUMNS = (
    "unexpected column(s) {columns}: a file to score holds the questionnaire fields (and may hold the labels "
    "and {optional}); nothing was scored"
)
WITHDRAWN = (
    "{model_name} version {model_version} was withdrawn at {withdrawn_at} by key {key_id}: {reason}. Nothing is scored "
    "with a withdrawn model; see `tarozu model status`"
)
PROCESS_ROWS = 20_000
"""Rows each worker process must have to be worth starting (a worker takes about half a second to start)."""
BAD_WORKERS = "--workers must be at least 1, not {workers}"
SPARK_WORKERS = (
    "--workers is for --engine local: Spark's parallelism is its master's (--spark-master local[N], or the "
    "cluster's executors)"
)
OUTPUT_EXISTS = "{path!r} exists: choose a new output path (a bulk run never overwrites)"
SPARK_PARQUET = "--engine spark reads and writes Parquet: {path!r} is not a .parquet file or a directory of them"
NOT_A_REGISTER = (
    "{path!r} is a directory, read as the Parquet files in it (as Spark writes a table), and {problem}: give a "
    "directory of Parquet files, or a CSV or Parquet file by its own path"
)
NO_DATA_FILES = "it holds no data files (names beginning with _ or . are not data)"
NOT_PARQUET = "{file!r} in it is not a Parquet file"
SPARK_UNREADABLE = (
    "Spark could not read {file!r} of the input as Parquet ({condition}): a register is a Parquet file, or a "
    "directory of them (names beginning with _ or . are not data). Nothing was recorded or written"
)
PARQUET_MAGIC = b"PAR1"
"""The first (and last) four bytes of every Parquet file."""
LOCAL_MASTER = "local[*]"
MASTER_FORMS = re.compile(
    r"local|local\[([1-9][0-9]*|\*)(\s*,\s*[0-9]+)?\]|local-cluster\[\s*[0-9]+\s*,\s*[0-9]+\s*,\s*[0-9]+\s*\]"
    r"|yarn|spark://\S+|k8s://\S+|sc://\S+"
)
"""The master URLs Spark starts a session on (its ``SparkSubmit`` and ``SparkContext`` forms), and Spark
Connect's ``sc://``: anything else fails in the JVM, with a Java stack, after a gateway has started."""
BAD_MASTER = (
    "--spark-master {master!r} is not a Spark master URL: give local[*] (this machine's cores; local[N] for N "
    "of them), spark://HOST:PORT (a standalone master), yarn, k8s://https://HOST:PORT or sc://HOST:PORT (a "
    "Spark Connect server); nothing was scored or recorded"
)
LOCAL_MASTER_GIVEN = (
    "--spark-master is for --engine spark: the local engine runs on this machine's own worker processes (--workers)"
)
BINARY_FILE_LIMIT = "spark.sql.sources.binaryFile.maxLength"
"""Spark's setting of the longest file its ``binaryFile`` source reads (whole, into one task)."""
PLAN_FIELDS = ("spark.sql.debug.maxToStringFields", "1000")
"""How many fields Spark writes out in a plan's text: its default (25) is fewer than a scored register's
columns, and each run warned that the plan's text was truncated. Only what Spark prints changes."""
ROW_GROUP = 262_144
"""Rows of the output written at once (a Parquet row group of the local engine's output)."""
CONTINUOUS = ("_probability", "_lower", "_upper", "_log_odds")
"""Ends of the output's columns of continuous numbers (nearly every value distinct), written without a dictionary."""
NO_PYSPARK = "--engine spark needs pyspark: pip install 'tarozu[spark]' (and a Java 17 or 21 runtime)"
CONNECT_RELATIVE = (
    "{path!r}: through Spark Connect, give --input and --output as absolute paths or URIs (the server, not "
    "this machine, resolves a relative path)"
)
CONNECT_LONG_FILE = (
    "{path!r} is longer than Spark's binaryFile source reads ({limit} bytes), and through Spark Connect there "
    "is no driver JVM to stream it through a digest: split it into several Parquet files (nothing was recorded "
    "or written)"
)
CONNECT_UNREACHABLE = (
    "cannot reach the Spark Connect server at {where} ({reason}): check its host and port (--spark-master "
    "sc://HOST:PORT, or SPARK_REMOTE); nothing was scored or recorded"
)
MASTER_UNREACHABLE = (
    "cannot reach the Spark master at {where} ({reason}): check its host and port (--spark-master "
    "spark://HOST:PORT, several masters of a standby pair separated by commas); nothing was scored or recorded"
)
CONNECT_PORT = 15002
"""Spark Connect's port when a URL gives none."""
MASTER_PORT = 7077
"""A standalone Spark master's port when a URL gives none."""
CONNECT_WAIT_S = 10.0
"""How long the command waits for a Spark Connect server or a standalone master to accept a connection
(Spark Connect's client would retry an unreachable one for many minutes without a word; a standalone
driver gives up after a minute, with a Java stack and no word of the master)."""
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?")
"""A URI's scheme and authority (``s3a://bucket``, ``file:``, ``dbfs:``): what precedes its path."""


class ScoreInputError(CommandError):
    """The input cannot be scored; the message names the row and column, and nothing was written."""


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    alias: str | None

    @property
    def uri(self) -> str:
        """The version's own URI: what was recorded is what is scored, even if the alias moves."""
        return f"models:/{self.name}/{self.version}"


# ---------------------------------------------------------------------------- arguments


def operator_label(given: str | None) -> str:
    label = given if given is not None else getpass.getuser()
    ok = 0 < len(label) <= MAX_OPERATOR and all(c.isalnum() or c in "._-" for c in label) and label.isascii()
    if not ok:
        raise CommandError(BAD_OPERATOR.format(operator=label, max=MAX_OPERATOR))
    return label


# ---------------------------------------------------------------------------- the model
def load_model(uri: str, tracking_uri: str | None = None) -> tuple[ModelRef, Any]:
    """The registered model behind ``uri`` (alias resolved to its version) and its ScreeningModel."""

    name, alias, version = registry.parse_model_uri(uri)
    if alias is not None:
        try:
            loaded = registry.load_registered(name=name, alias=alias, tracking_uri=tracking_uri)
        except (registry.NoChampionError, registry.BrokenModelError) as exc:
            raise CommandError(str(exc)) from None
        return ModelRef(name, loaded.version, alias), loaded.model
    import mlflow

    registry.resolve_tracking_uri(tracking_uri)
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # MLflow raises its own exceptions for a missing model or version
        raise CommandError(f"--model {uri!r} could not be loaded: {exc}") from None
    return ModelRef(name, str(version), None), pyfunc.unwrap_python_model().model


# ---------------------------------------------------------------------------- the input
def input_digest(path: Path) -> str:
    """SHA-256 of a file's bytes; of a directory (Spark's Parquet), of its data files' names and digests
    (:func:`directory_digest`)."""
    if path.is_file():
        return _file_sha256(path)
    return directory_digest((p.relative_to(path).as_posix(), _file_sha256(p)) for p in _data_files(path))


def directory_digest(files: Iterable[tuple[str, str]]) -> str:
    """SHA-256 of a directory's data files, given as (path within it, '/'-separated; the file's SHA-256):
    of one line ``path digest`` per file, in the order of the paths. Files and folders whose names begin
    with ``_`` or ``.`` are not data (Spark's ``_SUCCESS``, a crashed writer's ``.crc`` and temporary files;
    neither engine reads them) and are left out."""
    kept = sorted((name, digest) for name, digest in files if not _hidden(name))
    return hashlib.sha256("".join(f"{name} {digest}\n" for name, digest in kept).encode("utf-8")).hexdigest()


def _hidden(name: str) -> bool:
    return any(part.startswith(("_", ".")) for part in name.split("/"))


def _data_files(directory: Path) -> Iterator[Path]:
    """Every file under ``directory``, in its folders too (a partitioned register's ``year=2026/``)."""
    for p in directory.rglob("*"):
        if p.is_file():
            yield p


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_columns(columns: list[str], model_fields: tuple[str, ...]) -> list[str]:
    """The input's field columns (file names); refuses screening-only, unknown and missing columns."""

    screening_only = [c for c in columns if c in BULK_ONLY_FIELDS]
    if screening_only:
        raise ScoreInputError(BULK_NOT_SCREENING.format(fields=" or ".join(screening_only)))
    check_no_identifiers(columns)
    names = file_columns()
    fields = [names[f.id] for f in _questionnaire_fields()]
    ignored = {names[c] for c in (*LABEL_COLUMNS, *OPTIONAL_COLUMNS)}
    unknown = [c for c in columns if c not in set(fields) | ignored]
    if unknown:
        raise ScoreInputError(UNKNOWN_COLUMNS.format(columns=unknown, optional=list(OPTIONAL_COLUMNS)))
    missing = [names[f] for f in model_fields if names[f] not in columns]
    if missing:
        raise ScoreInputError(MISSING_FIELDS.format(columns=missing))
    return [c for c in columns if c in set(fields)]


def _questionnaire_fields() -> tuple[Any, ...]:

    return load_questionnaire().all_fields


def first_bad_cell(raw: pd.DataFrame, rows: np.ndarray) -> tuple[int, str, Any, list[str]] | None:
    """The first cell (in row order) that is not a level of its field: ``(row, column, value, allowed)``.

    ``raw`` holds field columns under their file names; ``rows`` are their row numbers.
    """

    names = file_columns()
    best: tuple[int, str, Any, list[str]] | None = None
    for f in _questionnaire_fields():
        column = names[f.id]
        if column not in raw.columns:
            continue
        values = raw[column]
        bad, allowed = bad_values(f, column, values)
        hits = np.flatnonzero(bad)
        if hits.size and (best is None or int(rows[hits[0]]) < best[0]):
            value = values.iloc[int(hits[0])]
            best = (int(rows[hits[0]]), column, None if _missing(value) else value, allowed)
    return best


def bad_values(field: Any, column: str, values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Which of ``values`` (cells of ``field``'s file column) are not allowed, and what is."""
    if field.id in coded_fields():
        bad_values = []
        for v in pd.unique(values):
            try:
                decode_levels(field.id, pd.Series([v], dtype=object), column=column, countries_to_other=False)
            except ValueError:
                bad_values.append(v)
        bad = values.isin(bad_values).to_numpy() if bad_values else np.zeros(len(values), dtype=bool)
        return bad, [c for c in level_codes(field.id).values() if c] + ["(empty)"]
    return ~values.isin(list(field.levels)).to_numpy(), list(field.levels)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def canonical_cases(raw: pd.DataFrame, model_fields: tuple[str, ...]) -> pd.DataFrame:
    """The model's fields of checked file rows, as questionnaire levels (CTDC codes decoded)."""

    return from_file_frame(raw)[list(model_fields)].astype(str)


def bad_cell_error(found: tuple[int, str, Any, list[str]]) -> ScoreInputError:
    row, column, value, allowed = found
    shown = "(empty)" if value is None or value == "" else value
    return ScoreInputError(BAD_CELL.format(row=row, column=column, value=shown, allowed=allowed))


# ---------------------------------------------------------------------------- the audit record
def audit_engine(database_url: str | None) -> Any:

    engine = make_engine(default_url(database_url))
    run_migrations(engine)
    return engine


def refuse_withdrawn(engine: Any, ref: ModelRef) -> None:

    info = load_withdrawals(engine).get((ref.name, ref.version))
    if info is not None:
        raise CommandError(WITHDRAWN.format(**info))


def record(engine: Any, *, ref: ModelRef, engine_name: str, rows: int, digest: str, operator: str) -> dict[str, Any]:
    """Append the run's ``bulk_scorings`` row to the audit chain (the API's own append operation)."""

    row = {
        "role": ROLE,
        "key_id": KEY_PREFIX + operator,
        "route": ROUTES[engine_name],
        "rows": rows,
        "model_name": ref.name,
        "model_version": ref.version,
        "questionnaire_version": load_questionnaire().version,
        "input_sha256": digest,
        "outlook_rule": OUTLOOK_RULE,
    }
    stored: dict[str, Any] = AuditWriter.append_once(engine, AppendBulkScoring(row))
    return stored


# ---------------------------------------------------------------------------- one machine
def score_frame(model: Any, cases: pd.DataFrame, *, progress: Any = None) -> pd.DataFrame:
    """The flat records of canonical ``cases`` (field ids, levels), vectorised."""

    engine = ScreeningEngine(model)
    return BulkScorer(engine).score(encode_frame(engine, cases), progress=progress)


def read_local(path: Path) -> pd.DataFrame:

    if path.suffix.lower() in PARQUET_SUFFIXES or path.is_dir():
        return pd.read_parquet(path)

    return read_table(path.read_bytes(), name=path.name)


@dataclass(frozen=True)
class FileColumn:
    """A column of a batch of the input as its distinct cells: row ``i`` holds ``values.iloc[index[i]]``.

    ``values`` are the cells as Arrow reads the file (Parquet's types, or text for CSV:
    :func:`~pipeline.data.formats.read_csv_text`), a missing cell last; fifty thousand rows of a few
    distinct answers are checked, decoded and encoded by as many lookups as there are distinct answers.
    """

    values: pd.Series
    index: np.ndarray

    def head(self, rows: int) -> pd.Series:
        return self.values.iloc[self.index[:rows]].reset_index(drop=True)


@dataclass
class Register:
    """An input opened to be read a batch at a time: how many ``rows`` it holds (a Parquet input's footers
    say it before its data is read; a CSV file's are known once read: None until then, see
    :meth:`counted`), its field ``columns`` (file names, checked by :func:`check_columns`), and the
    ``batches`` themselves (Arrow record batches or tables of those columns, in the order of its rows,
    read as they are taken; a text column may be a dictionary, and types may differ from file to file)."""

    rows: int | None
    columns: list[str]
    batches: Iterator[Any]

    def counted(self, enough: int) -> Register:
        """This register with its rows counted if it holds fewer than ``enough`` (read so far, to be
        taken again from the first), else still None: as many as a run needs to know to choose its
        workers and the size of its chunks."""
        if self.rows is not None:
            return self
        read = _taken(self.batches, enough)
        rows = sum(b.num_rows for b in read)
        if rows >= enough:
            return Register(None, self.columns, chain(read, self.batches))
        return Register(rows, self.columns, iter(read))


def open_register(path: Path, model_fields: tuple[str, ...], batch_rows: int = READ_ROWS) -> Register:
    """The input at ``path`` (CSV, or Parquet: a file or a directory of files) as a :class:`Register` of
    batches of at most ``batch_rows`` rows (a CSV file's: of at least ``batch_rows``, the last of what is left)."""
    if path.is_dir() or not is_csv(path):
        return _parquet_register(path, model_fields, batch_rows)
    header = read_csv_header(path)
    columns = check_columns(header, model_fields)
    blocks = stream_csv_text(path, header=header, columns=columns, block_bytes=CSV_BLOCK)
    return Register(None, columns, _joined(blocks, batch_rows))


def _joined(blocks: Iterator[Any], rows: int) -> Iterator[Any]:
    """Record ``blocks`` joined into tables of at least ``rows`` rows (the last of what is left), in order."""
    import pyarrow as pa

    while held := _taken(blocks, rows):
        yield pa.Table.from_batches(held)


def _taken(batches: Iterator[Any], rows: int) -> list[Any]:
    """The next ``batches`` that hold at least ``rows`` rows together, or all that are left."""
    taken: list[Any] = []
    count = 0
    while count < rows and (batch := next(batches, None)) is not None:
        taken.append(batch)
        count += batch.num_rows
    return taken


def check_parquet_directory(path: Path) -> None:
    """Refuse a directory that holds no data files, or one that is not Parquet (named, the first by path),
    before Arrow reads it: its own message would be about columns the empty directory lacks, or the
    bytes at the end of a file."""
    files = sorted(p.relative_to(path).as_posix() for p in _data_files(path))
    files = [name for name in files if not _hidden(name)]
    if not files:
        raise CommandError(NOT_A_REGISTER.format(path=str(path), problem=NO_DATA_FILES))
    for name in files:
        with (path / name).open("rb") as f:
            if f.read(len(PARQUET_MAGIC)) != PARQUET_MAGIC:
                raise CommandError(NOT_A_REGISTER.format(path=str(path), problem=NOT_PARQUET.format(file=name)))


def _parquet_register(path: Path, model_fields: tuple[str, ...], batch_rows: int) -> Register:
    """A Parquet file or directory read as ``pq.read_table`` reads it (a directory's files in its order,
    ``key=value`` folders as columns, names beginning with ``_`` or ``.`` left out), a batch at a time,
    each file page by page: a decoded row group (a million rows in pyarrow's files, millions in
    Spark's) is never held whole."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    dataset = None
    if path.is_file():
        schema = pq.read_schema(path)
    else:
        check_parquet_directory(path)
        dataset = ds.dataset(  # as pq.read_table finds a directory's files and folders
            path,
            format="parquet",
            partitioning=ds.HivePartitioning.discover(infer_dictionary=True),
            ignore_prefixes=[".", "_"],
        )
        schema = dataset.schema
    # pandas keeps a DataFrame's index as columns of the file; pd.read_parquet makes them the index again
    index_columns = set((schema.pandas_metadata or {}).get("index_columns", [])) if schema.metadata else set()
    names = [str(c) for c in schema.names if c not in index_columns]
    columns = check_columns(names, model_fields)
    if dataset is None:
        return Register(pq.read_metadata(path).num_rows, columns, _file_batches(path, columns, {}, batch_rows))
    fragments = list(dataset.get_fragments())  # in the order the dataset reads them
    batches = chain.from_iterable(
        _file_batches(Path(f.path), columns, ds.get_partition_keys(f.partition_expression), batch_rows)
        for f in fragments
    )
    return Register(dataset.count_rows(), columns, batches)


def _file_batches(path: Path, columns: list[str], folders: dict[str, Any], batch_rows: int) -> Iterator[Any]:
    """The ``columns`` of a Parquet file, ``batch_rows`` rows at a time, its text columns as dictionaries;
    a column the file lacks is its ``key=value`` folder's value (``folders``), or missing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stored = pq.read_schema(path)
    read = [c for c in columns if c in stored.names]
    text = [
        c for c in read if pa.types.is_string(stored.field(c).type) or pa.types.is_large_string(stored.field(c).type)
    ]
    with pq.ParquetFile(path, read_dictionary=text) as file:
        for batch in file.iter_batches(batch_size=batch_rows, columns=read):
            if len(read) == len(columns):
                yield batch
                continue
            arrays = {c: batch.column(c) for c in read}
            n = batch.num_rows
            for c in columns:
                if c not in arrays:
                    arrays[c] = pa.array([folders[c]] * n) if c in folders else pa.nulls(n, pa.string())
            yield pa.RecordBatch.from_pydict({c: arrays[c] for c in columns})


def register_codes(engine: ScreeningEngine, register: Register) -> Iterator[np.ndarray]:
    """The level codes of a register's rows, batch by batch (:class:`CellCodes`), each batch checked
    before its codes are given: the head's content by the PII guard (its first :data:`PII_SAMPLE` rows,
    before any codes), then every cell (the first bad one stops the reading)."""
    head = _taken(register.batches, PII_SAMPLE)  # the PII guard's rows, kept to be encoded next
    pieces = [_arrow_columns(_table(batch), register.columns) for batch in head]
    sample = [pd.DataFrame({c: column.head(PII_SAMPLE) for c, column in piece.items()}) for piece in pieces]
    read = pd.concat(sample, ignore_index=True) if sample else pd.DataFrame(columns=register.columns)
    check_no_identifiers(read.head(PII_SAMPLE))
    cells = CellCodes(engine)
    rest = ((batch, _arrow_columns(_table(batch), register.columns)) for batch in register.batches)
    for batch, columns in chain(zip(head, pieces, strict=True), rest):  # the head's columns, made once
        yield cells.codes(columns, batch.num_rows)


def _table(batch: Any) -> Any:
    """An Arrow table of a record batch, or the table itself."""
    import pyarrow as pa

    return batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])


def _arrow_columns(table: Any, columns: list[str]) -> dict[str, FileColumn]:
    """The ``columns`` of an Arrow table as :class:`FileColumn`: each one's distinct cells (Arrow's
    dictionary of it) and which one each row holds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    types = {c: table.schema.field(c).type for c in columns}  # the cells' type (a dictionary's values)
    types = {c: t.value_type if pa.types.is_dictionary(t) else t for c, t in types.items()}
    table = pa.table({c: _dictionary(table.column(c), pc) for c in columns}).unify_dictionaries()
    out = {}
    for c in columns:
        chunks = table.column(c).chunks
        dictionary = chunks[0].dictionary if chunks else pa.array([], type=types[c])
        missing = sum(chunk.null_count for chunk in chunks) > 0
        if missing:
            dictionary = pa.concat_arrays([dictionary, pa.nulls(1, dictionary.type)])
        parts = [pc.fill_null(chunk.indices, len(dictionary) - 1) if missing else chunk.indices for chunk in chunks]
        index = np.concatenate([part.to_numpy() for part in parts]) if parts else np.zeros(0, dtype=np.int32)
        out[c] = FileColumn(dictionary.to_pandas(), index)
    return out


def _dictionary(column: Any, pc: Any) -> Any:
    import pyarrow as pa

    return column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)


class CellCodes:
    """The level codes of a register's batches, ``(rows, fields)`` of the engine's fields, every cell
    checked first (:func:`bad_values`): the first bad one, in row order, stops the run, named by its
    row in the whole register. Each distinct cell of a column is checked, decoded (CTDC codes) and
    encoded once in the whole run, not once a batch: a register's batches hold the same few answers,
    so a batch costs a lookup of each of its distinct cells and one gather of its rows."""

    def __init__(self, engine: ScreeningEngine) -> None:
        self.engine = engine
        self.rows = 0  # rows coded so far: the next batch's rows are numbered after them
        names = file_columns()
        self._checked = [(f, names[f.id]) for f in _questionnaire_fields()]
        self._position = {fid: j for j, fid in enumerate(engine.fields)}
        self._dtype = np.uint8 if max(len(f.levels) for f in engine.field_defs) <= 256 else np.int64
        # per file column: each cell seen (a missing one as _MISSING) -> its level code (0 for a field the
        # model does not use), -1 if it is not allowed
        self._known: dict[str, dict[Any, int]] = {name: {} for _, name in self._checked}
        self._allowed: dict[str, list[str]] = {}

    def codes(self, columns: dict[str, FileColumn], rows: int) -> np.ndarray:
        """The codes of a batch of ``rows`` rows, its field columns as :class:`FileColumn`."""
        by_field = np.empty((len(self.engine.fields), rows), dtype=self._dtype)  # a field's codes contiguous
        first: tuple[int, str, Any, list[str]] | None = None
        for field, name in self._checked:
            column = columns.get(name)
            if column is None:
                continue
            codes = self._value_codes(field, name, column)[column.index]
            bad = codes < 0
            if bad.any():
                row = int(np.argmax(bad))
                if first is None or row < first[0]:
                    value = column.values.iloc[int(column.index[row])]
                    first = (row, name, None if _missing(value) else value, self._allowed[name])
            elif field.id in self._position:
                by_field[self._position[field.id]] = codes
        if first is not None:
            raise bad_cell_error((self.rows + first[0] + 1, *first[1:]))
        self.rows += rows
        return np.ascontiguousarray(by_field.T)

    def _value_codes(self, field: Any, name: str, column: FileColumn) -> np.ndarray:
        """The code of each distinct cell of ``column`` (-1: not allowed), those not seen before in this
        run checked and encoded now (a cell of the file's dictionary that no row holds is not a bad
        cell: it is never looked up)."""
        known = self._known[name]
        keys = [_MISSING if _missing(v) else v for v in column.values.tolist()]
        new = [i for i, key in enumerate(keys) if key not in known]
        if new:
            fresh = column.values.iloc[new].reset_index(drop=True)
            bad, self._allowed[name] = bad_values(field, name, fresh)
            codes = np.where(bad, -1, 0)
            good = np.flatnonzero(~bad)
            j = self._position.get(field.id)
            if j is not None and good.size:
                values = fresh.iloc[good].reset_index(drop=True)
                if field.id in coded_fields():
                    values = decode_levels(field.id, values, column=name, countries_to_other=False)
                codes[good] = encode_values(self.engine.field_defs[j], values.astype(str))
            known.update(zip((keys[i] for i in new), codes.tolist(), strict=True))
        return np.array([known[key] for key in keys], dtype=np.int64)


_MISSING = object()
"""The key of a missing cell among a column's cells seen (None, NaN and NA alike)."""


class ScoresFile:
    """The output of a local run, written while the chunks are scored: each chunk as it comes (Parquet:
    each chunk made Arrow columns as it comes, the texts decoded from their categories by Arrow, with
    the schema and pandas metadata that ``DataFrame.to_parquet`` gives these columns, written in row
    groups of :data:`ROW_GROUP` rows; CSV as :func:`write_table` writes it), so the run needs neither
    the whole output in memory nor its writing at the end. It is written to a hidden file beside
    ``target`` and appears there, whole, only when :meth:`publish` is called (once the run is
    recorded); leaving the ``with`` block before that removes it, and entering it removes those that
    runs stopped outright left (:meth:`_remove_abandoned`). An output that exists by then is never
    overwritten."""

    def __init__(self, target: Path) -> None:
        self.target = target
        # hidden, beside it (so that it is renamed, not copied), named by the machine and the process that
        # write it, with the output's suffix (its format)
        self._before_pid, self._after_pid = f".{target.stem}.{socket.gethostname()}.", f".partial{target.suffix}"
        self.partial = target.with_name(f"{self._before_pid}{os.getpid()}{self._after_pid}")
        self.parquet = not is_csv(target)
        self.rows = 0  # given to write(): written, or pending (Parquet) until a row group is whole
        self._pending: list[Any] = []  # Arrow tables of the rows not yet written (Parquet)
        self._written = 0
        self._writer: Any = None

    def __enter__(self) -> ScoresFile:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned()
        return self

    def _remove_abandoned(self) -> None:
        """The hidden files of earlier runs to this output, on this machine, whose process is gone: a run
        stopped outright (SIGKILL, the kernel's out-of-memory killer) runs no handler that removes its own.
        Another machine's (a shared folder) or a running process's are left alone."""
        start, end = self._before_pid, self._after_pid
        for path in self.target.parent.glob(f"{glob.escape(start)}*{glob.escape(end)}"):
            pid = path.name[len(start) : len(path.name) - len(end)]
            if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
                path.unlink(missing_ok=True)

    def __exit__(self, *exc: object) -> None:
        self._close()
        self.partial.unlink(missing_ok=True)

    def write(self, part: FlatColumns) -> None:
        """The next rows (numbered on from the last): CSV at once, Parquet a row group at a time."""
        rows = np.arange(self.rows + 1, self.rows + part.rows + 1)
        if not self.parquet:
            frame = part.frame()
            frame.insert(0, ROW, rows)
            if self.rows == 0:
                write_table(frame, self.partial)
            else:
                frame.to_csv(self.partial, mode="a", header=False, index=False, lineterminator="\n")
            self.rows += part.rows
            return
        if self._writer is None:
            self._open(part)
        self._pending.append(self._table(part, rows))
        self.rows += part.rows
        if self.rows - self._written >= ROW_GROUP:
            self._flush(final=False)

    def publish(self) -> None:
        """The rest written and the file closed, then put at ``target``."""
        if self.parquet:
            self._flush(final=True)
        self._close()
        if self.target.exists():
            raise CommandError(OUTPUT_EXISTS.format(path=str(self.target)))
        self.partial.replace(self.target)

    def _table(self, part: FlatColumns, rows: np.ndarray) -> Any:
        """``part`` as an Arrow table of the file's schema, its rows numbered ``rows``."""
        import pyarrow as pa

        out = [pa.array(rows, type=pa.int64())]
        for name in part.names:
            if name in part.texts:
                categories, codes = part.texts[name]
                dictionary = pa.array(categories, type=pa.large_string())
                index = pa.array(codes, type=pa.int32())
                out.append(pa.DictionaryArray.from_arrays(index, dictionary).cast(pa.large_string()))
            else:
                out.append(pa.array(part.numbers[name]))
        return pa.Table.from_arrays(out, schema=self._writer.schema)

    def _flush(self, *, final: bool) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        whole = table.num_rows - table.num_rows % ROW_GROUP if not final else table.num_rows
        # (an output of no rows still gets its one empty row group, as pandas writes it)
        for begin in range(0, max(whole, 1 if self._written == 0 else 0), ROW_GROUP):
            self._writer.write_table(table.slice(begin, min(ROW_GROUP, whole - begin)), row_group_size=ROW_GROUP)
        self._written += whole
        self._pending = [table.slice(whole)] if whole < table.num_rows else []  # less than a row group left

    def _open(self, scores: FlatColumns) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # the schema (and pandas metadata) of one such row written by pandas
        one = FlatColumns(
            scores.names,
            1,
            {name: np.zeros(1, dtype=values.dtype) for name, values in scores.numbers.items()},
            {name: (["text"], np.zeros(1, dtype=np.int64)) for name in scores.texts},
        ).frame()
        one.insert(0, ROW, np.zeros(1, dtype=np.int64))
        # a dictionary for the columns whose values repeat (texts, flags, a model's base value, flip
        # chances); the row numbers and the continuous numbers would only be hashed to fall back to plain
        repeating = [name for name in scores.names if not name.endswith(CONTINUOUS)]
        self._writer = pq.ParquetWriter(
            self.partial,
            pa.Schema.from_pandas(one, preserve_index=False),
            compression="snappy",
            use_dictionary=repeating,
        )

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user's counts; elsewhere than on
    POSIX, where signal 0 is not a probe, any)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    return True


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity where the OS tells it (a container's or a job's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def bulk_workers(requested: int | None, rows: int) -> int:
    """Worker processes for ``rows``: ``requested`` (default :func:`usable_cpus`), but no more than one
    per :data:`PROCESS_ROWS` rows; 1 scores in this process."""
    return max(1, min(usable_cpus() if requested is None else requested, rows // PROCESS_ROWS))


def run_local(args: argparse.Namespace, ref: ModelRef, model: Any, operator: str, audit: Any) -> tuple[int, str, str]:
    """Score on this machine: rows scored, when the run was recorded, and where it ran."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    source, target = Path(args.input), Path(args.output)
    engine = ScreeningEngine(model)
    scorer = BulkScorer(engine)
    # the input is read a batch at a time: the worker processes start before its data is read (a Parquet
    # input's footers say how many rows it has; of a CSV file, as many rows are read as it takes to know
    # whether it is short), and their start overlaps its hashing and its first batches' reading,
    # checking and encoding; each chunk goes to the workers as soon as it is encoded (the codes of the
    # rows read are held, never the register's columns), each chunk is written as it comes back, and the
    # output appears once the run is recorded
    with ScoresFile(target) as output:
        with ExitStack() as running:
            register = open_register(source, model.fields, READ_ROWS)
            wanted = usable_cpus() if args.workers is None else args.workers
            register = register.counted(CHUNK_ROWS * wanted)  # a CSV file's, if it is short
            workers = bulk_workers(args.workers, CHUNK_ROWS * wanted if register.rows is None else register.rows)
            started = running.enter_context(scorer.start_workers(workers)) if workers > 1 else 1
            digest = input_digest(source)
            console = Console(stderr=True)
            bar = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*bar, console=console, transient=True) as progress:
                task = progress.add_task("scoring", total=register.rows)
                codes = register_codes(engine, register)
                advance = partial(progress.advance, task)
                for part in scorer.parts(codes, rows=register.rows, progress=advance, workers=started):
                    output.write(part)
        stored = record(audit, ref=ref, engine_name="local", rows=output.rows, digest=digest, operator=operator)
        output.publish()
    return output.rows, stored["created_at"], "local"


# ---------------------------------------------------------------------------- Spark
def result_schema(model: Any) -> str:
    """The Spark DDL of the pyfunc's output columns."""

    engine = ScreeningEngine(model)
    example = engine.flat(engine.assess(model.encode({})))
    kinds = []
    for name in flat_names(engine):
        v = example[name]
        kinds.append(f"`{name}` {'boolean' if isinstance(v, bool) else 'double' if isinstance(v, float) else 'string'}")
    return ", ".join(kinds)


PYSPARK_ON_PANDAS_3 = "PySpark does not yet fully support pandas"
"""The start of pyspark 4.3's FutureWarning under pandas 3, printed wherever its pandas functions load (four
times a run): the two engines' row-for-row agreement is tested, so a run does not print it."""
QUIET_MLFLOW = {
    # MLflow's advice with env_manager="local" is to recreate the training environment with conda: the
    # Spark workers run this interpreter (PYSPARK_PYTHON), with Tarozu's own packages; on a cluster, see
    # the README.
    "mlflow.pyfunc": 'Calling `spark_udf()` with `env_manager="local"`',
    "mlflow.models.flavor_backend_registry": "Selected backend for flavor",
}
"""Records of MLflow's loggers that a Spark run drops (logger: the start of the message)."""


class _Drop(logging.Filter):
    """Drops the records whose message starts with ``start``."""

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.start)


@contextmanager
def quiet_spark_run() -> Iterator[None]:
    """A Spark run's console without what asks nothing of its user: pyspark's warning about pandas 3
    (:data:`PYSPARK_ON_PANDAS_3`), MLflow's advice and notes of :data:`QUIET_MLFLOW`, and the bar of
    MLflow's copying of the model's files for the workers (Spark shows its stages' own). Spark's log
    and progress are Spark's (its log level is the session's); ``py4j``'s notes (a connection closed
    as the process ends) show with ``tarozu -v``."""
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR as BAR

    filters = [(logging.getLogger(name), _Drop(start)) for name, start in QUIET_MLFLOW.items()]
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("py4j").setLevel(logging.WARNING)  # it logs as the process ends, after this block
    bar = os.environ.get(BAR.name)
    os.environ[BAR.name] = "false"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PYSPARK_ON_PANDAS_3, category=FutureWarning)
        for logger, dropped in filters:
            logger.addFilter(dropped)
        try:
            yield
        finally:
            for logger, dropped in filters:
                logger.removeFilter(dropped)
            if bar is None:
                os.environ.pop(BAR.name, None)
            else:
                os.environ[BAR.name] = bar


def spark_session(master: str | None) -> Any:
    """A Spark session whose Python workers run this interpreter (else they miss Tarozu's packages), on
    ``master``: a master URL, or ``sc://host:port`` for a Spark Connect server. Without one, the session is
    spark-submit's, the running one's (a managed Spark's job) or ``SPARK_REMOTE``'s (PySpark's setting of
    a Spark Connect server), else one on this machine's cores (:data:`LOCAL_MASTER`)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CommandError(NO_PYSPARK) from None
    builder = (
        SparkSession.builder.appName("tarozu-score")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config(*PLAN_FIELDS)
    )
    if master is not None and master.startswith("sc://"):
        _check_reachable(master)
        return builder.remote(master).getOrCreate()
    if master is not None and master.startswith("spark://"):
        _check_master(master)
    running = SparkSession.getActiveSession() is not None
    remote = os.environ.get("SPARK_REMOTE", "")
    if master is None and remote.startswith("sc://") and not running:
        _check_reachable(remote)
    # Under spark-submit (which starts this interpreter with its gateway's port) the master is spark-submit's
    # --master, in a running session (a managed Spark's job) that session's, and with SPARK_REMOTE set the
    # Spark Connect server's: setting one here would override it and score the whole register on the driver.
    given = "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_REMOTE" in os.environ or running
    if master is None and not given:
        master = LOCAL_MASTER
    if master is not None:
        builder = builder.master(master)
        if master.startswith("local"):  # no web UI on a port of this machine for a run on its own cores
            builder = builder.config("spark.ui.enabled", "false")
    return builder.getOrCreate()


def _check_reachable(url: str) -> None:
    """Refuse at once a Spark Connect URL whose server accepts no connection within :data:`CONNECT_WAIT_S`.
    The message names the server by host and port only (a URL may carry a token)."""
    try:
        host, port = _address(url, CONNECT_PORT)
    except ValueError as exc:  # a port that is not a number
        raise CommandError(CONNECT_UNREACHABLE.format(where="that URL", reason=exc)) from None
    reason = _refusal(host, port)
    if reason is not None:
        raise CommandError(CONNECT_UNREACHABLE.format(where=f"sc://{host}:{port}", reason=reason))


def _check_master(url: str) -> None:
    """Refuse at once a standalone master URL (``spark://host:port``, or several masters of a standby pair
    separated by commas) of which no master accepts a connection within :data:`CONNECT_WAIT_S`."""
    reasons = []
    for address in url.removeprefix("spark://").split(","):
        try:
            host, port = _address(f"spark://{address}", MASTER_PORT)
        except ValueError as exc:  # a port that is not a number
            raise CommandError(MASTER_UNREACHABLE.format(where=url, reason=exc)) from None
        reason = _refusal(host, port)
        if reason is None:
            return  # a driver registers with whichever of the masters leads
        reasons.append(f"{host}:{port}: {reason}")
    raise CommandError(MASTER_UNREACHABLE.format(where=url, reason="; ".join(reasons)))


def _address(url: str, default_port: int) -> tuple[str, int]:
    """A server URL's host and port (``default_port`` when it gives none); ValueError for a bad port."""
    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or default_port


def _refusal(host: str, port: int) -> str | None:
    """Why nothing at ``host:port`` accepts a connection within :data:`CONNECT_WAIT_S` (None if something does)."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_WAIT_S).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def through_connect(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect client's session (no JVM on this side: no ``sparkContext``)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def session_parallelism(spark: Any) -> int:
    """How many tasks the session runs at once when nothing says otherwise (its cores): the partitions of
    a range, which Spark cuts into that many. Asked by a small job, as a Spark Connect client can."""
    from pyspark.sql import functions as F  # noqa: N812 (the usual Spark name)

    tasks = spark.range(0, 1 << 16).select(F.spark_partition_id().alias("task"))
    return int(tasks.agg(F.max("task")).first()[0]) + 1


def number_rows(frame: Any) -> tuple[Any, int, int]:
    """``frame`` (as read from files) with its rows numbered from 1 in file order, as the local
    engine numbers them: files by name, each from its start; its row count; and how many of its tasks
    hold rows. One job.

    Spark reads a file in splits (one per task, a task may read several small files, and it orders
    them by size): the job counts the rows of each (task, file, split) and finds where in its task
    each begins. A row's number is the rows of the splits before its own, in file order, plus its
    place in its split (its place in its task, the low 33 bits of ``monotonically_increasing_id``,
    less where the split begins). A frame not read from files is numbered task by task."""
    from pyspark.sql import functions as F  # noqa: N812 (the usual Spark name)

    task, place = F.spark_partition_id(), F.monotonically_increasing_id().bitwiseAND((1 << 33) - 1)
    if frame.inputFiles():  # Spark's metadata of each row's file (catalogs that refuse input_file_name() allow it)
        file, start = F.col("_metadata.file_path"), F.col("_metadata.file_block_start")
    else:
        file, start = F.lit(""), F.lit(0).cast("long")
    split = F.concat_ws("|", task.cast("string"), start.cast("string"), file)
    where = frame.select(
        task.alias("task"), file.alias("file"), start.alias("start"), split.alias("key"), place.alias("place")
    )
    parts = where.groupBy("task", "file", "start", "key").agg(
        F.count(F.lit(1)).alias("rows"), F.min("place").alias("first")
    )
    shifts, before = [], 0
    # Spark names a file by its URI, with some characters percent-encoded (a space as %20, "#" as %23):
    # decoded, the names sort as the local engine sorts the paths.
    found = parts.collect()
    for part in sorted(found, key=lambda r: (unquote(r["file"]), r["start"], r["task"])):
        shifts += [F.lit(part["key"]), F.lit(before - part["first"]).cast("long")]
        before += part["rows"]
    shift = F.element_at(F.create_map(*shifts), split) if shifts else F.lit(0)
    tasks = len({part["task"] for part in found})
    return frame.select((shift + place + 1).alias(ROW), *frame.columns), before, tasks


def spark_score(spark: Any, *, ref: ModelRef, model: Any, source: str) -> tuple[Any, int, list[str]]:
    """The scored Spark DataFrame (lazy), the input's row count, and the field columns; raises on a bad cell."""
    import mlflow
    from pyspark.sql import functions as F  # noqa: N812 (the usual Spark name)

    raw = spark.read.parquet(source)
    model_fields = tuple(model.fields)  # the closures below ship these names, not the model
    columns = check_columns(list(raw.columns), model_fields)
    # Through Arrow (2x faster than Row objects), not toPandas: pyspark 4.3's needs pandas < 3.
    check_no_identifiers(raw.select(*columns).limit(PII_SAMPLE).toArrow().to_pandas())
    numbered, count, tasks = number_rows(raw.select(*columns))

    def problems(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            found = first_bad_cell(batch[columns], batch[ROW].to_numpy())
            if found is not None:
                row, column, value, allowed = found
                yield pd.DataFrame(
                    {
                        "row": [row],
                        "column": [column],
                        "value": [None if value is None else str(value)],
                        "allowed": [repr(allowed)],
                    }
                )

    bad = (
        numbered.mapInPandas(problems, "row long, column string, value string, allowed string")
        .orderBy("row")
        .limit(1)
        .collect()
    )
    if bad:
        import ast

        b = bad[0]
        raise bad_cell_error((int(b["row"]), b["column"], b["value"], ast.literal_eval(b["allowed"])))
    fields = list(model_fields)

    def canonical(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            cases = canonical_cases(batch[columns], model_fields)
            cases.insert(0, ROW, batch[ROW].to_numpy())
            yield cases

    ddl = ", ".join([f"{ROW} long", *(f"`{f}` string" for f in fields)])
    # A register is often one file of one split, which Spark reads in one task: spread its rows over
    # the session's cores before the Python steps (each row keeps its number).
    parallelism = session_parallelism(spark)
    spread = numbered.repartition(parallelism) if tasks < parallelism else numbered
    cases = spread.mapInPandas(canonical, ddl)
    udf = mlflow.pyfunc.spark_udf(spark, ref.uri, result_type=result_schema(model), env_manager="local")
    scored = cases.select(ROW, udf(F.struct(*[F.col(f) for f in fields])).alias("scores")).select(ROW, "scores.*")
    # MLflow 3.17's spark_udf casts a string column with .astype(str), which turns the empty
    # tier of a case not settled (None) into the text "None" (never a tier name): set it back.
    tier = F.col("referral_tier")
    scored = scored.withColumn("referral_tier", F.when(tier == F.lit(str(None)), F.lit(None)).otherwise(tier))
    return scored, count, fields


def stored_path(spark: Any, uri: str) -> tuple[str, bool] | None:
    """Where Spark resolves ``uri`` (a path or a URI: ``hdfs://``, ``s3a://``, ``file:``..., a bare path on
    the cluster's default filesystem), as its fully qualified URI, and whether it is a directory; None if
    nothing is there. Through Hadoop's FileSystem, as Spark itself reads and writes; through Spark Connect
    (no JVM on this side), from what the server lists there (:func:`_listed_path`)."""
    if through_connect(spark):
        return _listed_path(spark, uri)
    context = spark.sparkContext
    path = context._jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(context._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return None
    return str(fs.makeQualified(path).toString()), bool(fs.getFileStatus(path).isDirectory())


def _listed_path(spark: Any, uri: str) -> tuple[str, bool] | None:
    """:func:`stored_path` through Spark Connect, of an absolute path or URI: the files the server lists
    there (its ``binaryFile`` source, without reading them). A file lists itself alone; anything else
    that exists is a directory (an empty one lists nothing), named as given."""
    from pyspark.errors import AnalysisException

    if not (uri.startswith("/") or _SCHEME.match(uri)):
        raise CommandError(CONNECT_RELATIVE.format(path=uri))
    try:
        listed = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(uri).select("path")
        paths = [str(r["path"]) for r in listed.limit(2).collect()]  # two tell a file from a directory
    except AnalysisException as exc:
        if exc.getCondition() == "PATH_NOT_FOUND":
            return None
        raise
    if len(paths) == 1 and _path_part(paths[0]) == _path_part(uri):
        return paths[0], False
    return uri, True


def _path_part(uri: str) -> str:
    """The path of a path or URI, without its scheme and authority, normalised as Hadoop names it (no
    repeated or trailing ``/``). Hadoop's paths are not percent-encoded: ``#`` and ``?`` are name characters."""
    return posixpath.normpath(_SCHEME.sub("", uri, count=1) or "/")


def spark_input_digest(spark: Any, qualified: str, *, directory: bool) -> str:
    """:func:`input_digest` of the input at ``qualified`` (:func:`stored_path`), on whatever filesystem it
    is: each file is read and hashed where Spark reads it (one task per file), and only the digests come
    back to the driver. The same digest as on one machine, for the same files.

    A task holds a file whole, so Spark reads no file longer than its ``binaryFile`` limit (2 GB less a
    byte): a longer one (a register written as one large file) is streamed through a digest in the
    driver's JVM instead, from the same filesystem; through Spark Connect (no such JVM) it is refused."""
    from pyspark.sql import functions as F  # noqa: N812 (the usual Spark name)

    reader = spark.read.format("binaryFile")
    if directory:
        reader = reader.option("recursiveFileLookup", "true")
    files = reader.load(qualified)
    limit = int(spark.conf.get(BINARY_FILE_LIMIT, str(2**31 - 1)))
    length = F.col("length")  # a filter on it is applied to the listing, before any file is read
    long_files = [str(r["path"]) for r in files.where(length > limit).select("path").collect()]
    if long_files and through_connect(spark):
        raise CommandError(CONNECT_LONG_FILE.format(path=long_files[0], limit=limit))
    hashed = files.where(length <= limit).select("path", F.sha2(F.col("content"), 256).alias("sha256")).collect()
    digests = {str(r["path"]): str(r["sha256"]) for r in hashed}
    for path in long_files:
        digests[path] = _streamed_sha256(spark, path)
    if not directory:
        return next(iter(digests.values()))
    base = _path_part(qualified) + "/"  # the files' paths as Hadoop writes them: not percent-encoded
    return directory_digest((_path_part(path).removeprefix(base), digest) for path, digest in digests.items())


def _streamed_sha256(spark: Any, path: str) -> str:
    """The SHA-256 of a file as Hadoop's FileSystem reads it, streamed in the driver's JVM (Apache Commons
    Codec, on Spark's and Hadoop's classpath): the file is never held whole."""
    context = spark.sparkContext
    jvm = context._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    stream = hadoop_path.getFileSystem(context._jsc.hadoopConfiguration()).open(hadoop_path)
    try:
        return str(jvm.org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream))
    finally:
        stream.close()


def _parquet_name(uri: str) -> bool:
    """Whether a path or URI names a Parquet file. Hadoop's paths are not percent-encoded, so a ``#`` or
    ``?`` is part of the name (not a URL's fragment or query)."""
    return PurePosixPath(uri).suffix.lower() in PARQUET_SUFFIXES


def run_spark(args: argparse.Namespace, ref: ModelRef, model: Any, operator: str, audit: Any) -> tuple[int, str, str]:
    """Score on Spark (as :func:`run_local`; where: the session's master). The input and output may be on
    any filesystem the session reads and writes (a local disk, HDFS, S3...): they are checked, hashed and
    written there, not on the driver's disk."""
    if not _parquet_name(args.output):
        raise CommandError(SPARK_PARQUET.format(path=args.output))
    with quiet_spark_run():
        spark = spark_session(args.spark_master)
        found = stored_path(spark, args.input)
        if found is None:
            raise FileNotFoundError(f"no input at {args.input!r}")
        source, directory = found
        if not (directory or _parquet_name(source)):
            raise CommandError(SPARK_PARQUET.format(path=args.input))
        if stored_path(spark, args.output) is not None:
            raise CommandError(OUTPUT_EXISTS.format(path=args.output))
        try:
            scored, count, _ = spark_score(spark, ref=ref, model=model, source=source)
        except Exception as exc:
            problem = _unreadable(exc, source)
            if problem is None:
                raise
            raise CommandError(problem) from None
        digest = spark_input_digest(spark, source, directory=directory)
        stored = record(audit, ref=ref, engine_name="spark", rows=count, digest=digest, operator=operator)
        # never over an existing output ("errorifexists": not in Connect)
        scored.write.mode("error").parquet(args.output)
        return count, stored["created_at"], _where(spark)


def _unreadable(exc: BaseException, source: str) -> str | None:
    """What to tell of Spark's failure to read the input (``source``), if ``exc`` is one: a directory with no
    data files (Spark finds no schema) or a file that is not Parquet. Through Spark Connect the error
    carries its condition; through py4j, a cause of the Java exception does."""
    for condition, parameters in _spark_conditions(exc):
        if condition.startswith("UNABLE_TO_INFER_SCHEMA"):
            return NOT_A_REGISTER.format(path=source, problem=NO_DATA_FILES)
        if condition.startswith("FAILED_READ_FILE"):
            return SPARK_UNREADABLE.format(file=parameters.get("path", source), condition=condition)
    return None


def _spark_conditions(exc: BaseException) -> Iterator[tuple[str, dict[str, str]]]:
    """The error conditions (``FAILED_READ_FILE.NO_HINT``...) and their parameters of ``exc`` and of the
    Java exception under it, cause by cause."""
    condition = getattr(exc, "getCondition", None)  # pyspark's errors (Spark Connect's too)
    if callable(condition) and (found := condition()):
        yield str(found), dict(exc.getMessageParameters() or {})  # type: ignore[attr-defined]
    java = getattr(exc, "java_exception", None)  # py4j's Py4JJavaError
    if java is None:
        return
    from py4j.protocol import Py4JError

    while java is not None:
        try:
            found = java.getCondition()  # a SparkThrowable's
        except Py4JError:  # not a SparkThrowable: no such method
            found = None
        if found:
            yield str(found), {str(k): str(v) for k, v in dict(java.getMessageParameters()).items()}
        java = java.getCause()


def _where(spark: Any) -> str:
    """Where a Spark run ran, for its last line: the session's master (a managed server may not tell it)."""
    from pyspark.errors import PySparkException

    try:
        master = spark.conf.get("spark.master", None)
    except PySparkException:  # a setting the server keeps to itself (Databricks serverless)
        master = None
    where = f"spark on {master}" if master else "spark"
    return f"{where} through Spark Connect" if through_connect(spark) else where


# ---------------------------------------------------------------------------- the command
