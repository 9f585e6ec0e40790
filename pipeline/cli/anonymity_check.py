"""``tarozu anonymity-check``: the k-anonymity table of a data file."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.data.anonymity import CTDC_K, QUASI_IDENTIFIERS, anonymity_report
from pipeline.data.schema import load_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tarozu anonymity-check``."""
    parser.add_argument("path", type=Path, help="data file: Tarozu CSV/Parquet or a CTDC file")
    parser.add_argument("--k", type=int, default=CTDC_K, help=f"target k (default {CTDC_K}, CTDC's rule)")
    parser.add_argument(
        "--quasi-identifiers",
        default=",".join(QUASI_IDENTIFIERS),
        help="comma-separated columns of the Tarozu frame (default: %(default)s)",
    )
    parser.epilog = "Exit code 0 if the data is k-anonymous at the target k, 1 if not."


def run(args: argparse.Namespace) -> int:
    """Print the k-anonymity table of ``args.path``; 0 if it meets ``--k``, else 1."""
    dataset = load_dataset(args.path)
    quasi = [c.strip() for c in str(args.quasi_identifiers).split(",") if c.strip()]
    report = anonymity_report(dataset.frame, quasi_identifiers=quasi, k=args.k)
    table = Table(title=f"k-anonymity of {args.path.name} ({dataset.layout}, {report['rows']:,} rows)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("quasi-identifiers", ", ".join(report["quasi_identifiers"]))
    table.add_row("k of the data (smallest group)", str(report["k"]))
    table.add_row("smallest group", ", ".join(f"{c}={v}" for c, v in report["smallest_group"].items()))
    table.add_row("groups", f"{report['groups']:,}")
    table.add_row(f"groups smaller than k={report['target_k']}", f"{report['groups_below_target']:,}")
    table.add_row(
        f"rows a k={report['target_k']} suppression drops",
        f"{report['rows_suppressed']:,} ({report['share_suppressed']:.1%})",
    )
    Console().print(table)
    return 0 if report["satisfies_target"] else 1
