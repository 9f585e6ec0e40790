"""``tarozu export``: screenings with outcomes from the audit log, as training data or HTCDS case data."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from pipeline import htcds
from pipeline.data.anonymity import anonymity_report
from pipeline.data.schema import write_frame
from pipeline.errors import CommandError
from pipeline.export import FORMATS, SELECTIVE_LABELS, export_frame, other_findings_note, screenings_with_outcomes
from pipeline.fairness.field import FOLLOW_UP_RATE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-log", action="store_true", required=True, help="export from the audit log")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="tarozu",
        help="tarozu: anonymised training data (default); htcds: referred cases with outcomes as HTCDS fields",
    )
    parser.add_argument("--from", dest="start", type=datetime.fromisoformat, help="first day (ISO date)")
    parser.add_argument("--to", dest="end", type=datetime.fromisoformat, help="day after the last (ISO date)")
    parser.add_argument("--database-url", help="audit database (default TAROZU_DATABASE_URL)")
    parser.add_argument("--out", required=True, help="output file (tarozu: .parquet or .csv; htcds: .csv or .json)")
    parser.add_argument(
        "--follow-up-rate",
        type=float,
        default=FOLLOW_UP_RATE,
        help=f"rate of the random follow-up of unreferred people, as in the field protocol (default {FOLLOW_UP_RATE})",
    )
    parser.add_argument(
        "--k", type=int, default=11, help="k for the k-anonymity report of --format tarozu (default 11, CTDC's rule)"
    )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "format", "tarozu") == "htcds":
        return htcds.run(args)
    rate = getattr(args, "follow_up_rate", FOLLOW_UP_RATE)
    if not 0 < rate <= 1:
        raise CommandError(f"--follow-up-rate must be above 0 and at most 1 (a share, e.g. 0.05), not {rate}")
    screenings = list(screenings_with_outcomes(database_url=args.database_url, start=args.start, end=args.end))
    frame, counts = export_frame(screenings, follow_up_rate=rate)
    out = write_frame(frame, args.out)
    anonymity = anonymity_report(frame, k=args.k)
    report = {
        "counts": counts,
        "selective_labels": SELECTIVE_LABELS.format(**counts),
        "other_findings": other_findings_note(counts),
        "anonymity": anonymity,
    }
    Path(f"{out}.report.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    print(f"wrote {len(frame)} rows to {out}")
    print(report["selective_labels"])
    if report["other_findings"]:
        print(report["other_findings"])
    print(
        f"k-anonymity over {', '.join(anonymity['quasi_identifiers'])}: k = {anonymity['k']}; "
        f"a k={args.k} suppression would drop {anonymity['rows_suppressed']} rows"
    )
    return 0
