"""``tarozu score``: bulk scoring of a file of cases, on one machine or on Spark, logged (:mod:`pipeline.score`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.bulk import WorkerStoppedError, start_forkserver
from pipeline.data.columns import DataFormatError
from pipeline.data.formats import is_csv
from pipeline.errors import CommandError
from pipeline.score import (
    BAD_MASTER,
    BAD_WORKERS,
    DEFAULT_MODEL,
    ENGINES,
    KEY_PREFIX,
    LOCAL_MASTER_GIVEN,
    MASTER_FORMS,
    OUTPUT_EXISTS,
    SPARK_WORKERS,
    ScoreInputError,
    audit_engine,
    load_model,
    operator_label,
    refuse_withdrawn,
    run_local,
    run_spark,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"registered model URI (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--input",
        required=True,
        help="cases to score: a CSV or Parquet file, or a directory of Parquet files (as Spark writes a table; Spark: "
        "Parquet only)",
    )
    parser.add_argument("--output", required=True, help="where the scores go: .csv or .parquet (Spark: Parquet)")
    parser.add_argument("--engine", choices=ENGINES, default="local", help="local (default) or spark")
    parser.add_argument(
        "--spark-master",
        help=(
            "Spark master URL, or sc://HOST:PORT for a Spark Connect server (default: spark-submit's --master, "
            "the running session's, or SPARK_REMOTE's; else local[*])"
        ),
    )
    parser.add_argument(
        "--workers", type=int, help="local engine: worker processes (default: one per CPU this process may use)"
    )
    parser.add_argument("--operator", help="who runs it, for the audit log (default: the OS user name)")
    parser.add_argument("--database-url", help="audit database (default TAROZU_DATABASE_URL)")


def run(args: argparse.Namespace) -> int:
    operator = operator_label(args.operator)
    if args.spark_master is not None:  # refused before the model loads, not by the JVM after a gateway starts
        if args.engine != "spark":
            raise CommandError(LOCAL_MASTER_GIVEN)
        if not MASTER_FORMS.fullmatch(args.spark_master):
            raise CommandError(BAD_MASTER.format(master=args.spark_master))
    if args.workers is not None:
        if args.engine == "spark":
            raise CommandError(SPARK_WORKERS)
        if args.workers < 1:
            raise CommandError(BAD_WORKERS.format(workers=args.workers))
    if args.engine == "local":  # Spark checks them where it reads and writes (HDFS, S3...): run_spark
        if Path(args.output).exists():
            raise CommandError(OUTPUT_EXISTS.format(path=args.output))
        try:
            is_csv(args.output)  # a format it writes, before anything is scored or recorded
        except DataFormatError as exc:
            raise ScoreInputError(str(exc)) from None
        if not Path(args.input).exists():
            raise FileNotFoundError(f"no input at {args.input!r}")
        if args.workers != 1:  # the worker processes' forkserver starts while the model loads
            start_forkserver()
    ref, model = load_model(args.model)
    audit = audit_engine(args.database_url)
    try:
        refuse_withdrawn(audit, ref)  # before any work: the stop procedure stops bulk scoring too
        run_engine = run_spark if args.engine == "spark" else run_local
        rows, when, where = run_engine(args, ref, model, operator, audit)
    except DataFormatError as exc:
        raise ScoreInputError(str(exc)) from None
    except WorkerStoppedError as exc:  # nothing was recorded or written
        raise CommandError(str(exc)) from None
    finally:
        audit.dispose()
    print(
        f"scored {rows} rows with {ref.name} version {ref.version} ({where}) into {args.output}; "
        f"recorded in the audit log at {when} as bulk scoring by {KEY_PREFIX}{operator}"
    )
    return 0
