"""``tarozu train``: train, calibrate, evaluate and register screening models (:mod:`pipeline.train`)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from pipeline.config import load_config
from pipeline.research import run_research
from pipeline.train import RESEARCH_NOTE, train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="training config (YAML); default: the shipped default.yaml")
    parser.add_argument("--rows", type=int, help="override data.rows (synthetic data)")
    parser.add_argument("--data", help="train on this file instead (Tarozu, CTDC v2024 or CTDC condensed)")
    parser.add_argument(
        "--research",
        action="store_true",
        help="analysis only: also fit on all of the source's non-protected columns (not only the "
        "questionnaire's) to show what the questionnaire leaves out; logged, never registered",
    )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    updates: dict[str, Any] = {}
    if args.rows:
        updates["rows"] = args.rows
    if args.data:
        updates.update(source="file", path=args.data)
    if updates:
        config = config.model_copy(update={"data": config.data.model_copy(update=updates)})
    research = bool(getattr(args, "research", False))
    if research:
        # Nothing of a research run is registered, whatever the data.
        config = config.model_copy(update={"registry": config.registry.model_copy(update={"register_model": False})})
        Console(stderr=True).print(f"[yellow]note:[/] {RESEARCH_NOTE}")
    result = train(config)
    console = Console()
    if research:
        run_research(config, train_run_id=result.run_id, console=console)
        console.print(RESEARCH_NOTE)
        return 0
    if result.version:
        console.print(
            f"Registered {config.registry.model_name} version {result.version} as @challenger. "
            f"Promote it with: tarozu promote"
        )
    elif not result.screening_model:
        console.print("Trained on identified victims only: logged to MLflow, not registered (see the model card).")
    return 0
