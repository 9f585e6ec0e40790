"""``tarozu score``: one machine and Spark give the same scores; every run is in the audit log.

The Spark tests run on one small local Spark (``local[2]``, module-scoped): pyspark comes from
``make setup`` and Java from ``make system-deps``; they do not skip.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from models.bulk import records
from models.engine import ScreeningEngine
from models.interview import RULE
from pipeline.cli import main
from pipeline.data.formats import read_csv_text
from pipeline.pyfunc import input_frame_to_codes
from pipeline.score import (
    BAD_MASTER,
    BAD_WORKERS,
    LOCAL_MASTER_GIVEN,
    NO_DATA_FILES,
    NOT_A_REGISTER,
    NOT_PARQUET,
    PROCESS_ROWS,
    PYSPARK_ON_PANDAS_3,
    SPARK_PARQUET,
    SPARK_WORKERS,
    bulk_workers,
    open_register,
    usable_cpus,
)
from tests.support.factories import make_model

ROWS = 300
# One worker runs the whole module: one registry, one audit database, one Spark session.
pytestmark = pytest.mark.xdist_group("score")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A registry with one model at @champion, an audit database, and a file of generated cases."""
    from pipeline import registration
    from pipeline.data.schema import write_frame
    from pipeline.data.synthetic import generate
    from serving import registry

    root = tmp_path_factory.mktemp("score")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("TAROZU_DATABASE_URL", f"sqlite:///{root / 'audit.db'}")
        mp.chdir(root)
        import mlflow

        from serving.auditlog.database import make_engine, run_migrations

        # The audit database exists before any run, so that a test that only reads its
        # bulk_scorings rows sees an empty table whichever test runs first.
        audit = make_engine(os.environ["TAROZU_DATABASE_URL"])
        run_migrations(audit)
        audit.dispose()
        experiment = registration.ensure_experiment("score-test")
        with mlflow.start_run(experiment_id=experiment):
            version, _ = registration.log_screening_model(make_model(0), registered_name=registry.MODEL_NAME)
        assert version is not None
        registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHAMPION, version=version)
        frame = generate(rows=ROWS, seed=7)
        write_frame(frame, root / "cases.csv")
        write_frame(frame, root / "cases.parquet")
        yield root


def _bulk_rows(root: Path) -> list[Any]:
    from serving.auditlog.database import bulk_scorings, make_engine

    engine = make_engine(f"sqlite:///{root / 'audit.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(bulk_scorings).order_by(bulk_scorings.c.seq)))
    finally:
        engine.dispose()


def _expected(root: Path) -> list[dict[str, Any]]:
    """The API engine's own records of the cases, one by one."""
    from pipeline.data.schema import load_dataset

    engine = ScreeningEngine(make_model(0))
    frame = load_dataset(root / "cases.csv").frame
    return [engine.flat(a) for a in engine.assess_many(input_frame_to_codes(engine.model, frame))]


def test_local_scores_every_row_as_the_engine_and_records_the_run(home: Path) -> None:
    out = home / "local.parquet"
    assert main(["score", "--input", str(home / "cases.csv"), "--output", str(out), "--operator", "ana.t"]) == 0
    scored = pd.read_parquet(out)
    assert scored["row"].tolist() == list(range(1, ROWS + 1))
    got = records(scored.drop(columns=["row"]))
    assert [{k: (None if v is None or v != v else v) for k, v in r.items()} for r in got] == _expected(home)
    row = _bulk_rows(home)[-1]
    assert (row.role, row.key_id, row.route, row.rows) == ("data-scientist", "cli:ana.t", "score-local", ROWS)
    assert (row.model_name, row.model_version) == ("tarozu-screening", "1")
    assert row.outlook_rule == RULE  # with the version, what reproduces the settled flags and next questions
    import hashlib

    assert row.input_sha256 == hashlib.sha256((home / "cases.csv").read_bytes()).hexdigest()
    from serving.auditlog.database import make_engine
    from serving.auditlog.writer import verify_chain

    assert verify_chain(make_engine(f"sqlite:///{home / 'audit.db'}")).intact


def test_worker_processes_score_as_one_process(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import multiprocessing

    import pipeline.score

    monkeypatch.setattr(pipeline.score, "PROCESS_ROWS", 100)  # a worker for every 100 rows of the small file
    assert pipeline.score.bulk_workers(2, ROWS) == 2
    out = home / "workers.parquet"
    before = len(_bulk_rows(home))
    assert main(["score", "--input", str(home / "cases.csv"), "--output", str(out), "--workers", "2"]) == 0
    got = records(pd.read_parquet(out).drop(columns=["row"]))
    assert [{k: (None if v is None or v != v else v) for k, v in r.items()} for r in got] == _expected(home)
    assert len(_bulk_rows(home)) == before + 1
    capsys.readouterr()
    raw = pd.read_csv(home / "cases.csv", dtype=str, keep_default_na=False)
    raw.loc[41, "excessive_hours"] = "sometimes"  # found while the workers start: they stop with the run
    raw.to_csv(home / "bad-workers.csv", index=False)
    raw.to_parquet(home / "bad-workers.parquet", index=False)  # its workers start before it is read
    bad_cell = "row 42, column 'excessive_hours': value 'sometimes' is not allowed"
    for source, bad, message in (
        ("cases.csv", ["--workers", "0"], BAD_WORKERS.format(workers=0)),
        ("cases.csv", ["--workers", "2", "--engine", "spark"], SPARK_WORKERS),
        ("bad-workers.csv", ["--workers", "2"], bad_cell),
        ("bad-workers.parquet", ["--workers", "2"], bad_cell),
    ):
        never = home / "never-workers.parquet"
        assert main(["score", "--input", str(home / source), "--output", str(never), *bad]) == 2
        assert message in capsys.readouterr().err
        assert not never.exists()
    assert len(_bulk_rows(home)) == before + 1
    assert not multiprocessing.active_children()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--engine", "spark", "--spark-master", "bogus"], BAD_MASTER.format(master="bogus")),
        (["--engine", "spark", "--spark-master", "local[0]"], BAD_MASTER.format(master="local[0]")),
        (["--engine", "spark", "--spark-master", "spark:/host:7077"], BAD_MASTER.format(master="spark:/host:7077")),
        (["--spark-master", "local[2]"], LOCAL_MASTER_GIVEN),
    ],
)
def test_a_spark_master_spark_cannot_start_on_is_refused_at_once(
    home: Path, capsys: pytest.CaptureFixture[str], given: list[str], message: str
) -> None:
    """A master URL that is none of Spark's forms is refused before the model loads, with the forms named
    (Spark's JVM would refuse it after its gateway started, with a Java stack and a Python traceback), and
    so is a master given to the local engine, which would ignore it; nothing is recorded or written."""
    before = len(_bulk_rows(home))
    never = home / "never.parquet"
    assert main(["score", "--input", str(home / "cases.parquet"), "--output", str(never), *given]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not never.exists()
    assert len(_bulk_rows(home)) == before


def test_the_command_starts_without_the_apis_schemas() -> None:
    """``tarozu score`` refuses the fields a screening has and a bulk case may not (the rule the API's
    batch schema keeps too), without importing those pydantic schemas at every start."""
    check = "import sys, pipeline.cli.score; print('serving.schemas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def test_workers_by_default_one_per_usable_cpu_and_never_for_a_few_rows() -> None:
    assert bulk_workers(None, 10 * PROCESS_ROWS * usable_cpus()) == usable_cpus()
    assert bulk_workers(None, PROCESS_ROWS - 1) == 1  # starting a process would cost more than it saves
    assert bulk_workers(8, 3 * PROCESS_ROWS) == 3
    assert bulk_workers(1, 100 * PROCESS_ROWS) == 1


@pytest.mark.parametrize("batch_rows", [7, 64, 50_000])
def test_a_register_is_read_in_batches_in_the_order_of_a_whole_read(
    home: Path, batch_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The footers say how many rows a Parquet file or directory holds before its data is read (so the
    workers start while it is read); its batches, of at most ``batch_rows`` rows, hold the rows of
    ``pq.read_table`` in its order (a directory's files, its folders, ``key=value`` folders as
    columns, row groups that end a batch early). A CSV file's rows are counted as it is read, only
    as far as a run needs to know (a short file's all); its blocks, joined into batches of at least
    ``batch_rows`` rows, hold the rows of the whole file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import pipeline.score

    monkeypatch.setattr(pipeline.score, "CSV_BLOCK", 4096)  # a few rows of the small file a block

    register = home / "register-rows"
    (register / "2026").mkdir(parents=True, exist_ok=True)
    frame = pd.read_parquet(home / "cases.parquet")
    frame.to_parquet(register / "part-0.parquet", index=False, row_group_size=100)
    frame.head(7).to_parquet(register / "2026" / "part-1.parquet", index=False)
    frame.tail(50).to_parquet(register / "part-2.parquet", index=False, row_group_size=9)
    (register / "_SUCCESS").write_bytes(b"")
    by_sector = home / "register-by-sector"  # a field's answer as a key=value folder, not a column
    for sector, rows in frame.groupby("sector"):
        (by_sector / f"sector={sector}").mkdir(parents=True, exist_ok=True)
        rows.drop(columns="sector").to_parquet(by_sector / f"sector={sector}" / "part-0.parquet", index=False)
    fields = make_model(0).fields
    csv = home / "cases.csv"
    assert open_register(csv, fields, batch_rows).rows is None
    assert open_register(csv, fields, batch_rows).counted(ROWS).rows is None  # as many as enough: not all
    for source, rows in ((home / "cases.parquet", ROWS), (register, ROWS + 57), (by_sector, ROWS), (csv, ROWS)):
        opened = open_register(source, fields, batch_rows).counted(ROWS + 1)
        assert opened.rows == rows
        batches = list(opened.batches)
        if source != csv:
            assert max(b.num_rows for b in batches) <= batch_rows
        else:
            assert all(b.num_rows >= batch_rows for b in batches[:-1])
        if batch_rows == 7:
            assert len(batches) > 1  # read as it is taken, not whole
        read = pa.concat_tables(b if isinstance(b, pa.Table) else pa.Table.from_batches([b]) for b in batches)
        whole = pq.read_table(source) if source != csv else read_csv_text(source.read_bytes(), name="x")
        for column in opened.columns:
            assert read.column(column).to_pylist() == whole.column(column).to_pylist(), column
    broken = home / "broken.parquet"
    broken.write_bytes(b"PAR1 not a Parquet file")
    with pytest.raises(pa.ArrowInvalid, match="magic bytes"):
        open_register(broken, fields)


def test_a_register_is_never_held_whole(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads a register a batch at a time and hands each chunk to the workers as it is
    encoded: a worker scores the first chunk before the last batch is read."""
    import models.bulk
    import pipeline.score

    monkeypatch.setattr(pipeline.score, "PROCESS_ROWS", 100)  # two workers: chunks of 150 rows
    monkeypatch.setattr(pipeline.score, "READ_ROWS", 30)
    monkeypatch.setattr(pipeline.score, "PII_SAMPLE", 60)  # the guard's rows are read before any chunk
    monkeypatch.setattr(models.bulk, "AHEAD_ROWS", 100)  # a chunk handed on waits to be scored before the next
    taken: list[str] = []
    real_open = pipeline.score.open_register

    def opened(path: Path, fields: tuple[str, ...], batch_rows: int) -> pipeline.score.Register:
        register = real_open(path, fields, batch_rows)
        read = register.batches

        def batches() -> Iterator[Any]:
            for batch in read:
                taken.append(f"read {batch.num_rows}")
                yield batch

        register.batches = batches()
        return register

    real_scored = models.bulk.Workers.scored

    def scored(self: Any, chunks: Any, progress: Any) -> Iterator[dict[str, Any]]:
        for part in real_scored(self, chunks, progress):
            taken.append(f"scored {len(part['settled'])}")
            yield part

    monkeypatch.setattr(pipeline.score, "open_register", opened)
    monkeypatch.setattr(models.bulk.Workers, "scored", scored)
    out = home / "streamed.parquet"
    assert main(["score", "--input", str(home / "cases.parquet"), "--output", str(out), "--workers", "2"]) == 0
    assert taken == ["read 30"] * 5 + ["scored 150"] + ["read 30"] * 5 + ["scored 150"]
    plain = home / "streamed-plain.parquet"
    assert main(["score", "--input", str(home / "cases.parquet"), "--output", str(plain), "--workers", "1"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(plain), check_exact=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_empty_register_scores_to_an_empty_output(home: Path, suffix: str) -> None:
    """A register with its columns and no rows (a month with no intake forms) gives the output's
    columns and no rows, and its run is recorded with 0 rows."""
    frame = pd.read_parquet(home / "cases.parquet").head(0)
    empty, out = home / f"empty{suffix}", home / f"empty-scores{suffix}"
    frame.to_csv(empty, index=False) if suffix == ".csv" else frame.to_parquet(empty, index=False)
    assert main(["score", "--input", str(empty), "--output", str(out), "--operator", "ana.t"]) == 0
    full = home / f"full-scores{suffix}"
    assert main(["score", "--input", str(home / f"cases{suffix}"), "--output", str(full), "--operator", "ana.t"]) == 0
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    assert len(read(out)) == 0
    assert list(read(out).columns) == list(read(full).columns)
    assert [r.rows for r in _bulk_rows(home)[-2:]] == [0, ROWS]


def test_bad_cell_names_row_and_column_and_writes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = pd.read_csv(home / "cases.csv", dtype=str, keep_default_na=False)
    raw.loc[41, "excessive_hours"] = "sometimes"
    raw.loc[77, "sector"] = "fishing-boat"
    bad = home / "bad.csv"
    raw.to_csv(bad, index=False)
    before = len(_bulk_rows(home))
    out = home / "never.csv"
    assert main(["score", "--input", str(bad), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "row 42, column 'excessive_hours': value 'sometimes' is not allowed" in err
    assert not out.exists()
    assert len(_bulk_rows(home)) == before


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_bad_cell_in_a_later_batch_is_named_by_its_row_in_the_register(
    home: Path, suffix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read 30 rows at a time (a CSV file's blocks of a few rows joined into batches of 30 or more), a cell
    not allowed in a later batch is named by its row in the whole register, though its column's cells
    were checked and known in the batches before; of two in a batch, the first in row order, whichever
    column it is in."""
    import pipeline.score

    monkeypatch.setattr(pipeline.score, "READ_ROWS", 30)
    monkeypatch.setattr(pipeline.score, "CSV_BLOCK", 4096)
    raw = pd.read_csv(home / "cases.csv", dtype=str, keep_default_na=False)
    raw.loc[96, "excessive_hours"] = "sometimes"  # row 97
    raw.loc[93, "sector"] = "fishing-boat"  # row 94: the first
    raw.loc[250, "sector"] = "mining-boat"
    bad, out = home / f"bad-later{suffix}", home / f"bad-later-scores{suffix}"
    raw.to_csv(bad, index=False) if suffix == ".csv" else raw.to_parquet(bad, index=False)
    before = len(_bulk_rows(home))
    assert main(["score", "--input", str(bad), "--output", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "row 94, column 'sector': value 'fishing-boat' is not allowed" in err
    assert err.rstrip().endswith("Nothing was written or recorded")  # batches before it may have been scored
    assert not out.exists()
    assert not list(home.glob(".bad-later*"))
    assert len(_bulk_rows(home)) == before


@pytest.mark.parametrize("block", [1 << 20, 4096])
def test_a_ragged_csv_row_is_refused_and_nothing_is_written(
    home: Path, block: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ragged row stops the run with Arrow's reason, in the first block read or in a later one
    (blocks of 4 KB: a few rows each): nothing is written or recorded."""
    import pipeline.score

    monkeypatch.setattr(pipeline.score, "CSV_BLOCK", block)
    lines = (home / "cases.csv").read_text().splitlines()
    lines[250] = lines[250].rsplit(",", 1)[0]  # row 250 loses its last cell
    ragged, out = home / "ragged.csv", home / "ragged-scores.csv"
    ragged.write_text("\n".join(lines) + "\n")
    before = len(_bulk_rows(home))
    assert main(["score", "--input", str(ragged), "--output", str(out), "--workers", "1"]) == 2
    assert "ragged.csv: CSV parse error: Expected" in capsys.readouterr().err
    assert not out.exists()
    assert len(_bulk_rows(home)) == before


@pytest.mark.parametrize("column", ["screener_assessment", "case_ref"])
def test_screening_columns_are_refused(home: Path, column: str, capsys: pytest.CaptureFixture[str]) -> None:
    from serving.bulk import BULK_NOT_SCREENING

    raw = pd.read_csv(home / "cases.csv", dtype=str, keep_default_na=False).assign(**{column: "medium"})
    path = home / f"with-{column}.csv"
    raw.to_csv(path, index=False)
    assert main(["score", "--input", str(path), "--output", str(home / "x.csv")]) == 2
    assert BULK_NOT_SCREENING.format(fields=column) in capsys.readouterr().err


def test_missing_field_and_existing_output_are_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = pd.read_csv(home / "cases.csv", dtype=str, keep_default_na=False).drop(columns=["debt_bondage"])
    path = home / "short.csv"
    raw.to_csv(path, index=False)
    assert main(["score", "--input", str(path), "--output", str(home / "y.csv")]) == 2
    assert "lacks column(s) ['debt_bondage']" in capsys.readouterr().err
    assert main(["score", "--input", str(home / "cases.csv"), "--output", str(home / "cases.parquet")]) == 2
    assert "never overwrites" in capsys.readouterr().err
    assert (
        main(["score", "--input", str(home / "cases.csv"), "--output", str(home / "z.csv"), "--operator", "a b"]) == 2
    )


def test_an_output_format_it_cannot_write_is_refused_before_anything_is_scored(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(_bulk_rows(home))
    assert main(["score", "--input", str(home / "cases.csv"), "--output", str(home / "scores.txt")]) == 2
    from pipeline.data.formats import CSV_SUFFIXES, PARQUET_SUFFIXES, UNSUPPORTED_SUFFIX

    named = UNSUPPORTED_SUFFIX.format(path=str(home / "scores.txt"), suffixes=[*CSV_SUFFIXES, *PARQUET_SUFFIXES])
    assert named in capsys.readouterr().err  # what it writes, named
    assert len(_bulk_rows(home)) == before  # nothing recorded
    assert not (home / "scores.txt").exists()


def test_the_output_appears_only_once_the_run_is_recorded(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunks are written while they are scored, under a hidden name beside the output: a run whose
    record fails leaves neither the output nor that file."""
    import pipeline.score

    def no_record(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        assert not list(home.glob("out*")), "the output appeared before the run was recorded"
        assert list(home.glob(".out.*.partial.parquet")), "the output is written while the run goes on"
        raise RuntimeError("the audit database went away")

    monkeypatch.setattr(pipeline.score, "record", no_record)
    monkeypatch.setattr(pipeline.score, "ROW_GROUP", 64)  # row groups written before the record
    with pytest.raises(RuntimeError, match="went away"):
        main(["score", "--input", str(home / "cases.csv"), "--output", str(home / "out.parquet")])
    assert not [p.name for p in home.iterdir() if "out" in p.name]


def test_a_hidden_file_left_by_a_run_stopped_outright_is_removed_by_the_next(home: Path) -> None:
    """A run stopped outright (SIGKILL, the out-of-memory killer) cannot remove its hidden file; the next
    run to the same output does, but not the file of a process still running, of another machine (a
    shared folder) or of another output."""
    import socket

    host, folder = socket.gethostname(), home / "stopped"
    folder.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    abandoned = folder / f".again.{host}.{gone.pid}.partial.parquet"
    kept = [
        folder / f".again.{host}.{os.getppid()}.partial.parquet",  # pytest's parent: running
        folder / f".again.elsewhere.{gone.pid}.partial.parquet",
        folder / f".other.{host}.{gone.pid}.partial.parquet",
        folder / f".again.{host}.{gone.pid}.partial.csv",
    ]
    for path in [abandoned, *kept]:
        path.write_bytes(b"PAR1 half a file")
    assert main(["score", "--input", str(home / "cases.csv"), "--output", str(folder / "again.parquet")]) == 0
    assert not abandoned.exists()
    assert all(path.exists() for path in kept)
    assert len(pd.read_parquet(folder / "again.parquet")) == ROWS


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({}, NO_DATA_FILES),
        ({"_SUCCESS": b"", ".part-0.crc": b"x"}, NO_DATA_FILES),
        ({"part-0.parquet": None, "part-1.csv": b"economic_pressure\nyes\n"}, NOT_PARQUET.format(file="part-1.csv")),
        ({"2026/part-0.parquet": b"PAR"}, NOT_PARQUET.format(file="2026/part-0.parquet")),
    ],
    ids=["empty", "only-not-data", "a-csv-among-parquet", "too-short"],
)
def test_a_directory_that_is_not_a_parquet_register_is_refused_by_name(
    home: Path, capsys: pytest.CaptureFixture[str], files: dict[str, bytes | None], problem: str
) -> None:
    """A directory is read as Spark's Parquet files: one with none, or with a file that is not Parquet, is
    refused with the file named, before anything is recorded or written."""
    register = home / f"register-{len(list(home.glob('register-*')))}"
    register.mkdir()
    for name, content in files.items():
        (register / name).parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            pd.read_parquet(home / "cases.parquet").to_parquet(register / name, index=False)
        else:
            (register / name).write_bytes(content)
    before, out = len(_bulk_rows(home)), home / f"{register.name}.csv"
    assert main(["score", "--input", str(register), "--output", str(out)]) == 2
    assert NOT_A_REGISTER.format(path=str(register), problem=problem) in capsys.readouterr().err
    assert not out.exists()
    assert len(_bulk_rows(home)) == before


def test_a_withdrawn_model_scores_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from serving.auditlog.database import make_engine
    from serving.auditlog.writer import AppendModelEvent, AuditWriter

    engine = make_engine(f"sqlite:///{home / 'audit.db'}")
    event = {"role": "admin", "key_id": "cli", "model_name": "tarozu-screening", "model_version": "1"}
    AuditWriter.append_once(engine, AppendModelEvent({**event, "action": "withdraw", "reason": "test"}))
    try:
        out = home / "withdrawn.csv"
        assert main(["score", "--input", str(home / "cases.csv"), "--output", str(out)]) == 2
        assert "was withdrawn" in capsys.readouterr().err
        assert not out.exists()
    finally:
        AuditWriter.append_once(engine, AppendModelEvent({**event, "action": "reinstate", "reason": "test over"}))
        engine.dispose()


# ---------------------------------------------------------------------------- Spark
@pytest.fixture(scope="module")
def spark(home: Path) -> Iterator[Any]:
    from pipeline.score import spark_session

    session = spark_session("local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_gives_the_same_scores_as_one_machine(home: Path, spark: Any) -> None:
    local, distributed = home / "one.parquet", home / "spark.parquet"
    common = ["--input", str(home / "cases.parquet"), "--operator", "ana.t"]
    assert main(["score", *common, "--output", str(local)]) == 0
    assert (
        main(["score", *common, "--output", str(distributed), "--engine", "spark", "--spark-master", "local[2]"]) == 0
    )
    a = pd.read_parquet(local)
    b = pd.read_parquet(distributed).sort_values("row", ignore_index=True)
    assert list(b.columns) == list(a.columns)
    assert len(b) == ROWS
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True)
    runs = _bulk_rows(home)[-2:]
    assert [r.route for r in runs] == ["score-local", "score-spark"]
    assert runs[0].input_sha256 == runs[1].input_sha256
    assert {r.rows for r in runs} == {ROWS}


@pytest.mark.slow
def test_spark_numbers_a_directory_of_files_as_one_machine_does(home: Path, spark: Any) -> None:
    """A register in several files is numbered in file order (files by name) by both engines, though
    Spark reads the largest first and names files by URIs, in which a space or "#" is percent-encoded
    ("part%20a" would sort after "part!b"): the same row number holds the same case's scores."""
    raw = pd.read_parquet(home / "cases.parquet")
    register = home / "register"
    register.mkdir()
    cuts = [0, ROWS // 10, ROWS // 10 + ROWS // 2, ROWS]  # smallest file first by name, largest second
    names = ["part a", "part!b", "part#c"]  # in the order of their names' characters: " ", "!", "#"
    for name, (begin, end) in reversed(list(zip(names, itertools.pairwise(cuts), strict=True))):  # made last first
        raw.iloc[begin:end].to_parquet(register / f"{name}.parquet", index=False)
    (register / "_SUCCESS").write_bytes(b"")  # what a Spark job leaves: not data, read by neither engine
    local, distributed = home / "register-one.parquet", home / "register-spark.parquet"
    assert main(["score", "--input", str(register), "--output", str(local), "--operator", "ana.t"]) == 0
    # Spark given URIs, as on a cluster's storage (hdfs://, s3a://): here the local disk's file: scheme
    spark_args = ["--input", register.as_uri(), "--output", distributed.as_uri(), "--engine", "spark"]
    assert main(["score", *spark_args, "--spark-master", "local[2]", "--operator", "ana.t"]) == 0
    a = pd.read_parquet(local)
    b = pd.read_parquet(distributed).sort_values("row", ignore_index=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True)
    runs = _bulk_rows(home)[-2:]
    assert [r.route for r in runs] == ["score-local", "score-spark"]
    assert runs[0].input_sha256 == runs[1].input_sha256  # the same files, hashed on the driver or by Spark


@pytest.mark.slow
def test_under_spark_submit_the_run_takes_its_master(home: Path, spark: Any) -> None:
    """Run by spark-submit without --spark-master (as on a cluster), the command scores on spark-submit's
    master (here local[1]), not on the driver's own cores, and says where it ran; its console has Spark's
    log and stages, not pyspark's warning about pandas 3, MLflow's advice to use conda and the bar of its
    copying of the model's files, Spark's warning that a plan's text was truncated, or py4j's note as the
    process ends."""
    import pipeline.cli

    out = home / "submitted.parquet"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    submit = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[1]", pipeline.cli.__file__]
    command = ["score", "--input", str(home / "cases.parquet"), "--output", str(out), "--engine", "spark"]
    done = subprocess.run([*submit, *command], env=env, cwd=home, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tarozu-screening version 1 (spark on local[1]) into" in done.stdout
    assert len(pd.read_parquet(out)) == ROWS
    console = done.stdout + done.stderr  # spark-submit sends the driver's stderr to its stdout
    assert "WARN" in console  # Spark's own log is there
    noises = ("FutureWarning", PYSPARK_ON_PANDAS_3, "env_manager", "Downloading artifacts", "Truncated the", "py4j")
    for noise in noises:
        assert noise not in console, console[-3000:]


@pytest.mark.slow
def test_spark_hashes_an_input_as_one_machine_does(home: Path, spark: Any) -> None:
    """The input's digest in the audit log is the same whichever engine took it: a file's bytes, or a
    directory's data files (in its folders too) by their paths, leaving out what is not data."""
    from pipeline.score import input_digest, spark_input_digest, stored_path

    folder = home / "digest"
    (folder / "year=2026").mkdir(parents=True)
    for name, content in [
        ("part 1.parquet", b"a"),
        ("part#2.parquet", b"b"),
        ("part%41.parquet", b"d"),  # a name that looks percent-encoded is a name
        ("year=2026/part-3.parquet", b"c"),
        ("_SUCCESS", b""),
        ("_metadata", b"footers"),
        (".part-1.parquet.crc", b"crc"),
    ]:
        (folder / name).write_bytes(content)
    digest = input_digest(folder)
    assert stored_path(spark, folder.as_uri()) == (f"file:{folder}", True)  # Hadoop's form of the URI
    assert spark_input_digest(spark, f"file:{folder}", directory=True) == digest
    (folder / "year=2026" / "part-3.parquet").write_bytes(b"C")  # one byte of one file changed
    assert input_digest(folder) != digest
    assert spark_input_digest(spark, f"file:{folder}", directory=True) == input_digest(folder)
    one = home / "cases.parquet"
    assert stored_path(spark, str(one)) == (f"file:{one}", False)
    assert spark_input_digest(spark, f"file:{one}", directory=False) == input_digest(one)
    assert stored_path(spark, str(home / "nothing-here")) is None


def _bad_registers(home: Path, prefix: str) -> tuple[Path, Path]:
    """Two directories that are not registers: one with no data files (only ``_SUCCESS``), one with a
    CSV file named as Parquet beside a Parquet part."""
    empty, mixed = home / f"{prefix}-empty", home / f"{prefix}-mixed"
    empty.mkdir()
    (empty / "_SUCCESS").write_bytes(b"")
    mixed.mkdir()
    (mixed / "part-0.parquet").write_bytes((home / "cases.parquet").read_bytes())
    (mixed / "part-1.parquet").write_bytes((home / "cases.csv").read_bytes())
    return empty, mixed


CONNECT_RUNS = """
import json, sys
from pyspark.sql import SparkSession
from pipeline.cli import main
from pipeline.score import BINARY_FILE_LIMIT

spark = SparkSession.builder.getOrCreate()  # SPARK_REMOTE: a local Spark Connect server, and a client of it
codes = []
for argv, limit in json.loads(sys.argv[1]):
    if limit is None:
        spark.conf.unset(BINARY_FILE_LIMIT)
    else:
        spark.conf.set(BINARY_FILE_LIMIT, limit)
    codes.append(main(argv))
print("codes", json.dumps(codes))
"""


@pytest.mark.slow
def test_spark_connect_scores_as_one_machine_and_checks_where_the_server_reads(home: Path) -> None:
    """Through Spark Connect (Databricks' standard and serverless compute; here a local server that
    PySpark starts for SPARK_REMOTE=local[2], in a process of its own): a register in several files,
    with a space and a "#" in their names, scores as on one machine, with the same digest
    recorded, and says where it ran. A relative path, a missing input, an existing output, a file
    longer than Spark reads whole, a directory with no data files, one with a file that is not
    Parquet and a file that is not Parquet are refused before anything is recorded."""
    raw = pd.read_parquet(home / "cases.parquet")
    register = home / "connect-register"
    register.mkdir()
    for name, (begin, end) in zip(["part a", "part#b", "part-c"], [(0, 40), (40, 200), (200, ROWS)], strict=True):
        raw.iloc[begin:end].to_parquet(register / f"{name}.parquet", index=False)
    (register / "_SUCCESS").write_bytes(b"")
    empty, mixed = _bad_registers(home, "connect")
    out = home / "connect.parquet"
    spark_run = ["--engine", "spark", "--operator", "ana.t"]
    runs = [
        (["score", "--input", "connect-register", "--output", str(home / "r.parquet"), *spark_run], None),
        (["score", "--input", str(home / "no-such"), "--output", str(home / "m.parquet"), *spark_run], None),
        (["score", "--input", str(register), "--output", str(out), *spark_run], None),
        (["score", "--input", str(register), "--output", str(out), *spark_run], None),
        (["score", "--input", register.as_uri(), "--output", str(home / "long.parquet"), *spark_run], "1000"),
        (["score", "--input", str(empty), "--output", str(home / "e.parquet"), *spark_run], None),
        (["score", "--input", str(mixed), "--output", str(home / "x.parquet"), *spark_run], None),
        (["score", "--input", str(home / "cases.csv"), "--output", str(home / "c.parquet"), *spark_run], None),
    ]
    before = len(_bulk_rows(home))
    env = {**os.environ, "SPARK_REMOTE": "local[2]", "PYSPARK_PYTHON": sys.executable}
    command = [sys.executable, "-c", CONNECT_RUNS, json.dumps(runs)]
    done = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "codes [2, 2, 0, 2, 2, 2, 2, 2]" in done.stdout, done.stderr[-3000:]
    assert "(spark on local[2] through Spark Connect)" in done.stdout
    assert "through Spark Connect, give --input and --output as absolute paths" in done.stderr
    assert f"no input at {str(home / 'no-such')!r}" in done.stderr
    assert "never overwrites" in done.stderr
    assert "no driver JVM to stream it through a digest" in done.stderr
    assert NOT_A_REGISTER.format(path=str(empty), problem=NO_DATA_FILES) in done.stderr
    assert f"Spark could not read {(mixed / 'part-1.parquet').as_uri()!r} of the input as Parquet" in done.stderr
    assert SPARK_PARQUET.format(path=str(home / "cases.csv")) in done.stderr  # a file, told from a directory
    recorded = _bulk_rows(home)[before:]
    assert [r.route for r in recorded] == ["score-spark"]
    local = home / "connect-local.parquet"
    assert main(["score", "--input", str(register), "--output", str(local), "--operator", "ana.t"]) == 0
    a = pd.read_parquet(local)
    b = pd.read_parquet(out).sort_values("row", ignore_index=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True)
    assert _bulk_rows(home)[-1].input_sha256 == recorded[0].input_sha256


def test_a_spark_server_out_of_reach_is_refused_at_once(home: Path) -> None:
    """A Spark Connect client retries a server that does not answer for many minutes without a word, and
    a standalone driver gives up on its master after a minute with a Java stack: the command refuses
    either at once, naming it by host and port (never a Connect URL's token), a Connect server given by
    --spark-master or by SPARK_REMOTE, a standalone master (or a standby pair of them) by --spark-master,
    and records nothing. (Each run in a process of its own, with a deadline: without the check it would
    wait on the server.)"""
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    before = len(_bulk_rows(home))
    where = f"sc://127.0.0.1:{ports[0]}"
    url = f"{where}/;token=secret-token"
    pair = f"spark://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}"
    command = [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"]
    command += ["score", "--input", str(home / "cases.parquet"), "--output", str(home / "x.parquet")]
    command += ["--engine", "spark"]
    runs = [
        (["--spark-master", url], {}, f"cannot reach the Spark Connect server at {where} ("),
        ([], {"SPARK_REMOTE": url}, f"cannot reach the Spark Connect server at {where} ("),
        (["--spark-master", f"spark://127.0.0.1:{ports[1]}"], {}, f"Spark master at spark://127.0.0.1:{ports[1]} ("),
        (["--spark-master", pair], {}, f"Spark master at {pair} (127.0.0.1:{ports[0]}: "),
    ]
    for extra, env, said in runs:
        done = subprocess.run(
            [*command, *extra], env={**os.environ, **env}, cwd=home, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2, done.stderr[-2000:]
        assert said in done.stderr, done.stderr[-2000:]
        assert "secret-token" not in done.stderr
    assert len(_bulk_rows(home)) == before
    assert not (home / "x.parquet").exists()


@pytest.mark.slow
def test_spark_hashes_files_longer_than_it_reads_whole(home: Path, spark: Any) -> None:
    """A file longer than Spark's binaryFile source reads (2 GB; here the limit is set to 2 bytes) is
    hashed through the driver's JVM: the same digest as one machine's, alone or among shorter files."""
    from pipeline.score import BINARY_FILE_LIMIT, input_digest, spark_input_digest

    folder = home / "long"
    (folder / "year=2026").mkdir(parents=True)
    for name, content in [("a.parquet", b"ab"), ("b #1.parquet", b"longer"), ("year=2026/c.parquet", b"x" * 70_000)]:
        (folder / name).write_bytes(content)
    before = spark.conf.get(BINARY_FILE_LIMIT, None)
    spark.conf.set(BINARY_FILE_LIMIT, "2")
    try:
        assert spark_input_digest(spark, f"file:{folder}", directory=True) == input_digest(folder)
        one = folder / "year=2026" / "c.parquet"
        assert spark_input_digest(spark, f"file:{one}", directory=False) == input_digest(one)
    finally:
        if before is None:
            spark.conf.unset(BINARY_FILE_LIMIT)
        else:
            spark.conf.set(BINARY_FILE_LIMIT, before)


@pytest.mark.slow
def test_spark_refuses_a_missing_input_an_existing_output_and_other_formats(
    home: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked where Spark reads and writes (given URIs here), before anything is scored or recorded; a
    name is told Parquet by its extension, whatever characters it holds."""
    before = len(_bulk_rows(home))
    spark_run = ["--engine", "spark", "--spark-master", "local[2]"]
    missing = (home / "no-such-register.parquet").as_uri()
    assert main(["score", "--input", missing, "--output", (home / "m.parquet").as_uri(), *spark_run]) == 2
    assert f"no input at {missing!r}" in capsys.readouterr().err
    existing = (home / "cases.csv").as_uri()
    source = (home / "cases.parquet").as_uri()
    assert main(["score", "--input", source, "--output", existing, *spark_run]) == 2
    assert "reads and writes Parquet" in capsys.readouterr().err
    assert main(["score", "--input", existing, "--output", (home / "c.parquet").as_uri(), *spark_run]) == 2
    assert "reads and writes Parquet" in capsys.readouterr().err
    assert main(["score", "--input", source, "--output", source, *spark_run]) == 2
    assert "never overwrites" in capsys.readouterr().err
    # a directory with no data files, and one with a file that is not Parquet: named, not a Java stack
    empty, mixed = _bad_registers(home, "spark")
    assert main(["score", "--input", empty.as_uri(), "--output", str(home / "e.parquet"), *spark_run]) == 2
    assert NOT_A_REGISTER.format(path=f"file:{empty}", problem=NO_DATA_FILES) in capsys.readouterr().err
    assert main(["score", "--input", str(mixed), "--output", str(home / "x.parquet"), *spark_run]) == 2
    err = capsys.readouterr().err
    assert f"Spark could not read {(mixed / 'part-1.parquet').as_uri()!r} of the input as Parquet" in err
    assert "Traceback" not in err
    assert not (home / "e.parquet").exists()
    assert not (home / "x.parquet").exists()
    assert len(_bulk_rows(home)) == before
    # "#" and "?" are part of a file's name (Hadoop's paths are not URLs): such a register is Parquet too
    named = home / "cases #1?.parquet"
    named.write_bytes((home / "cases.parquet").read_bytes())
    assert main(["score", "--input", str(named), "--output", str(home / "scores #1?.parquet"), *spark_run]) == 0
    assert len(pd.read_parquet(home / "scores #1?.parquet")) == ROWS


@pytest.mark.slow
def test_spark_spreads_a_one_file_register_over_the_sessions_cores(home: Path, spark: Any) -> None:
    """A register in one small file is one task when read; it is scored in as many as the session
    has cores (here 2), each row keeping its number."""
    from pipeline.score import load_model, spark_score

    path = str(home / "cases.parquet")
    assert spark.read.parquet(path).rdd.getNumPartitions() == 1
    ref, model = load_model("models:/tarozu-screening@champion")
    scored, count, _ = spark_score(spark, ref=ref, model=model, source=path)
    assert scored.rdd.getNumPartitions() == spark.sparkContext.defaultParallelism == 2
    assert sorted(r["row"] for r in scored.select("row").collect()) == list(range(1, count + 1))


@pytest.mark.slow
@pytest.mark.parametrize(("rows", "partitions"), [(1000, 7), (10, 20), (0, 3)])
def test_spark_numbers_rows_in_the_order_it_reads_them(spark: Any, rows: int, partitions: int) -> None:
    """Rows are numbered from 1 partition by partition, in the order Spark reads them (what
    zipWithIndex gave), over uneven and empty partitions; they and the tasks that hold some are
    counted in the same pass."""
    from pipeline.score import number_rows

    frame = spark.range(0, rows, numPartitions=partitions)  # partition p holds the next ids in order
    numbered, count, tasks = number_rows(frame)
    assert count == rows
    assert tasks == min(rows, partitions)
    assert sorted((r["row"], r["id"]) for r in numbered.collect()) == [(i + 1, i) for i in range(rows)]


@pytest.mark.slow
def test_spark_names_the_bad_row_and_writes_nothing(home: Path, spark: Any, capsys: pytest.CaptureFixture[str]) -> None:
    raw = pd.read_parquet(home / "cases.parquet")
    raw.loc[250, "sector"] = "fishing-boat"
    path = home / "bad.parquet"
    raw.to_parquet(path, index=False)
    out = home / "bad-out.parquet"
    args = ["score", "--input", str(path), "--output", str(out), "--engine", "spark", "--spark-master", "local[2]"]
    assert main(args) == 2
    assert "row 251, column 'sector': value 'fishing-boat' is not allowed" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "spark"])
def test_names_in_a_field_column_are_refused_and_nothing_is_written(
    home: Path, spark: Any, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A register whose field column holds people's names is refused before anything is read further
    or written, by both engines (the content guard reads a sample of the rows)."""
    raw = pd.read_parquet(home / "cases.parquet")
    raw["sector"] = [f"Firuza Rahimova {i}" for i in range(len(raw))]
    path = home / f"names-{engine}.parquet"
    raw.to_parquet(path, index=False)
    out = home / f"names-{engine}-scores.parquet"
    on = ["--spark-master", "local[2]"] if engine == "spark" else []
    assert main(["score", "--input", str(path), "--output", str(out), "--engine", engine, *on]) == 2
    err = capsys.readouterr().err
    assert "look like identifiers or free text" in err
    assert "['sector']" in err
    assert not out.exists()


def _pandas_path(source: Path, target: Path) -> None:
    """The output as the per-frame path writes it: pandas reads, checks, decodes and writes."""
    from pipeline.data.formats import write_table
    from pipeline.score import canonical_cases, check_columns, first_bad_cell, read_local, score_frame

    model = make_model(0)
    raw = read_local(source)
    raw = raw[check_columns(list(raw.columns), model.fields)]
    assert first_bad_cell(raw, np.arange(1, len(raw) + 1)) is None
    scores = score_frame(model, canonical_cases(raw, model.fields))
    scores.insert(0, "row", np.arange(1, len(raw) + 1))
    write_table(scores, target)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("source", "suffix"), [("cases.parquet", ".parquet"), ("cases.csv", ".csv")])
def test_local_output_is_the_pandas_paths_byte_for_value(
    home: Path, source: str, suffix: str, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The columnar path (batches of Arrow dictionaries in, Arrow out) writes what the pandas path
    wrote: the same values, and for Parquet the same schema and pandas metadata, a row group at a
    time, whether the rows come back as one chunk or as two (two workers) that the row groups and the
    batches read straddle."""
    import pyarrow.parquet as pq

    import pipeline.score

    monkeypatch.setattr(pipeline.score, "ROW_GROUP", 64)  # 300 rows: four groups of 64 and one of 44
    monkeypatch.setattr(pipeline.score, "PROCESS_ROWS", 100)  # two workers: chunks of 150 rows
    monkeypatch.setattr(pipeline.score, "READ_ROWS", 37)  # read in batches that straddle the chunks
    ours, theirs = home / f"columnar-{workers}{suffix}", home / f"pandas-{workers}{suffix}"
    command = ["score", "--input", str(home / source), "--output", str(ours), "--workers", str(workers)]
    assert main([*command, "--operator", "ana.t"]) == 0
    assert not list(home.glob(".*partial*"))
    _pandas_path(home / source, theirs)
    if suffix == ".csv":
        assert ours.read_bytes() == theirs.read_bytes()
        return
    assert pq.ParquetFile(ours).metadata.num_row_groups == 5
    assert pq.read_schema(ours).equals(pq.read_schema(theirs), check_metadata=True)
    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs), check_exact=True)


def test_dictionary_parquet_cells_are_checked_as_read(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Parquet file of dictionary columns: an unused dictionary entry is no cell, a missing cell is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(home / "cases.parquet")
    sector = table.column("sector").combine_chunks().dictionary_encode()
    extra = pa.DictionaryArray.from_arrays(
        sector.indices, pa.concat_arrays([sector.dictionary, pa.array(["fishing-boat"], type=sector.dictionary.type)])
    )
    unused = home / "unused-entry.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("sector"), "sector", extra), unused)
    out = home / "unused-entry-scores.parquet"
    assert main(["score", "--input", str(unused), "--output", str(out)]) == 0
    plain = home / "plain-scores.parquet"
    assert main(["score", "--input", str(home / "cases.parquet"), "--output", str(plain)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(plain), check_exact=True)
    indices = pa.array([None if i == 12 else v for i, v in enumerate(sector.indices.to_pylist())], type=pa.int32())
    missing = home / "missing-cell.parquet"
    column = pa.DictionaryArray.from_arrays(indices, sector.dictionary)
    pq.write_table(table.set_column(table.schema.get_field_index("sector"), "sector", column), missing)
    assert main(["score", "--input", str(missing), "--output", str(home / "never.parquet")]) == 2
    assert "row 13, column 'sector': value '(empty)' is not allowed" in capsys.readouterr().err
    assert not (home / "never.parquet").exists()
