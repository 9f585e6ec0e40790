"""``tarozu audit-log verify``: check the audit log's hash chain from the first row to the head.

Exit 0 with "N rows, chain intact"; exit 1 naming the first row (by sequence number) that
was edited, deleted, inserted or reordered. Keep the printed head hash somewhere else
(a ticket, a signed e-mail): with it, even a rewrite of the whole chain is detectable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = sub.add_parser("verify", help="verify the hash chain")
    verify.add_argument("--database-url", help="audit database (default TAROZU_DATABASE_URL)")


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import make_url

    from serving.auditlog import verify_chain
    from serving.db import make_engine, normalise_url
    from serving.settings import database_url

    url = normalise_url(database_url(args.database_url))
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        print(f"tarozu audit-log: no audit database at {parsed.database}", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        report = verify_chain(engine)
    finally:
        engine.dispose()
    if report.problem is not None:
        print(f"audit log NOT intact: {report.problem}", file=sys.stderr)
        return 1
    print(f"{report.rows} rows, chain intact (head hash {report.head_hash})")
    return 0
