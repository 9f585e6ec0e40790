"""``tarozu audit-log``: `verify` checks the audit log's hash chain from the first row to the head.

Exit 0 with "N rows, chain intact"; exit 1 naming the first row (by sequence number) that
was edited, deleted, inserted or reordered. Keep the printed head hash somewhere else
(a ticket, a signed e-mail): with it, even a rewrite of the whole chain is detectable.

With ``--recompute`` it also re-scores every logged screening (or ``--sample N`` of them) with
the logged model version from the MLflow registry and checks the hash of the response the
screener was given (see :mod:`serving.auditlog.recompute`); exit 1 on any mismatch, each named by its
screening id and what differs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import make_url

from serving.auditlog.database import make_engine, normalise_url
from serving.auditlog.recompute import NOT_RECOMPUTABLE, RegistrySource, verify_recompute
from serving.auditlog.writer import verify_chain
from serving.settings import database_url

if TYPE_CHECKING:
    from sqlalchemy import Engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = sub.add_parser("verify", help="verify the hash chain (and, with --recompute, the logged responses)")
    verify.add_argument("--database-url", help="audit database (default TAROZU_DATABASE_URL)")
    verify.add_argument(
        "--recompute",
        action="store_true",
        help="re-score logged screenings with their logged model version and check each response hash",
    )
    verify.add_argument(
        "--sample", type=int, metavar="N", help="with --recompute: N screenings drawn at random, not all"
    )
    verify.add_argument(
        "--model-uri",
        "--tracking-uri",
        dest="tracking_uri",
        help="MLflow registry to load the logged model versions from "
        "(default TAROZU_TRACKING_URI, MLFLOW_TRACKING_URI or ./mlflow.db)",
    )


def run(args: argparse.Namespace) -> int:

    if args.sample is not None and (not args.recompute or args.sample < 1):
        print("tarozu audit-log: --sample needs --recompute and a positive N", file=sys.stderr)
        return 2
    url = normalise_url(database_url(args.database_url))
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        print(f"tarozu audit-log: no audit database at {parsed.database}", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        report = verify_chain(engine)
        failed = report.problem is not None
        if failed:
            print(f"audit log NOT intact: {report.problem}", file=sys.stderr)
        else:
            print(f"{report.rows} rows, chain intact (head hash {report.head_hash})")
        if args.recompute:
            failed = _recompute(engine, args) or failed
    finally:
        engine.dispose()
    return 1 if failed else 0


def _recompute(engine: Engine, args: argparse.Namespace) -> bool:
    """Run the recompute check and print its report; True if anything failed."""

    source = RegistrySource(args.tracking_uri or os.environ.get("TAROZU_TRACKING_URI") or None)
    report = verify_recompute(engine, source, sample=args.sample)
    for mismatch in report.mismatches:
        print(f"recompute MISMATCH: {mismatch}", file=sys.stderr)
    if report.not_recomputable:
        print(f"{report.not_recomputable} screenings {NOT_RECOMPUTABLE}")
    good = report.checked - len(report.mismatches)
    print(f"recompute: {good} of {report.checked} screenings reproduce their logged response")
    return not report.ok
