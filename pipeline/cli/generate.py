"""``tarozu generate``: draw a synthetic screened population and write it to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.data.formats import CSV_SUFFIXES, PARQUET_SUFFIXES, UNSUPPORTED_SUFFIX
from pipeline.data.schema import export_ctdc_v2024, write_frame
from pipeline.data.synthetic import generate, load_population
from pipeline.errors import CommandError

FORMATS: tuple[str, ...] = ("tarozu", "ctdc-v2024")
BAD_ROWS = "--rows must be at least 1, not {rows}"
SUMMARY = (
    "{rows:,} rows (scenario {scenario}, seed {seed}): labour {obs_l:.2%} observed / {true_l:.2%} true, "
    "sexual {obs_s:.2%} observed / {true_s:.2%} true -> {path} ({format})"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tarozu generate``."""
    parser.add_argument("--rows", type=int, required=True, help="number of rows (screenings)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same file")
    parser.add_argument("--scenario", default="default", help="scenario of the population config")
    parser.add_argument("--out", type=Path, required=True, help="output file, .csv or .parquet")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="tarozu",
        help="tarozu (full frame with ground truth) or ctdc-v2024 (the 27 CTDC columns, lossy)",
    )
    parser.add_argument("--config", type=Path, default=None, help="population config (default: data/synthetic)")


def run(args: argparse.Namespace) -> int:
    """Generate, write, and print a one-line summary."""
    if args.rows < 1:
        raise CommandError(BAD_ROWS.format(rows=args.rows))
    suffixes = [*CSV_SUFFIXES, *PARQUET_SUFFIXES]
    if args.out.suffix.lower() not in suffixes:
        raise CommandError(UNSUPPORTED_SUFFIX.format(path=str(args.out), suffixes=suffixes))
    load_population(scenario=args.scenario, config_path=args.config)  # fail before any work
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("generating", total=args.rows)
        frame = generate(
            rows=args.rows,
            seed=args.seed,
            scenario=args.scenario,
            config_path=args.config,
            progress=lambda done: progress.update(task, completed=done),
        )
        progress.update(task, description="writing")
        path = write_frame(frame, args.out) if args.format == "tarozu" else export_ctdc_v2024(frame, args.out)
    print(
        SUMMARY.format(
            rows=len(frame),
            scenario=args.scenario,
            seed=args.seed,
            obs_l=frame["is_labour"].mean(),
            true_l=frame["true_labour"].mean(),
            obs_s=frame["is_sexual"].mean(),
            true_s=frame["true_sexual"].mean(),
            path=path,
            format=args.format,
        )
    )
    return 0
