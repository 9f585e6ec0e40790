"""``tarozu promote``: compare @challenger with @champion and move @champion (:mod:`pipeline.promote`)."""

from __future__ import annotations

import argparse

from rich.console import Console

from pipeline import registration
from pipeline.config import load_config
from pipeline.errors import CommandError
from pipeline.fairness.gate import GateSettings, fairness_gate
from pipeline.promote import (
    ALREADY,
    NO_CHALLENGER,
    accepted_reason,
    decide,
    evaluation_frame,
    record,
    scores,
)
from serving import registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="training config whose promotion section applies")
    parser.add_argument("--data", help="evaluation data file (default: fresh synthetic data)")
    parser.add_argument("--accept-risk", metavar="REASON", help="promote despite a refusal; the reason is recorded")


def run(args: argparse.Namespace) -> int:
    console = Console()
    config = load_config(args.config)
    name = config.registry.model_name
    reason = accepted_reason(args.accept_risk)
    new_version = registry.alias_version(name=name, alias=registry.CHALLENGER)
    if new_version is None:
        raise CommandError(NO_CHALLENGER)
    old_version = registry.alias_version(name=name, alias=registry.CHAMPION)
    if old_version is not None and old_version.version == new_version.version:
        console.print(ALREADY.format(version=new_version.version))
        return 0
    challenger = registry.load_registered(name=name, alias=registry.CHALLENGER).model
    champion = registry.load_registered(name=name, alias=registry.CHAMPION).model if old_version else None
    frame = evaluation_frame(config, args.data)
    decision = decide(
        challenger=scores(challenger, frame),
        champion=scores(champion, frame) if champion else None,
        gate=fairness_gate(challenger, frame, GateSettings.from_config(config)),
        config=config.promotion,
        accepted_risk=reason,
    )
    for outcome, entry in decision.comparison.items():
        parts = [
            f"{who} AUROC {s.auroc:.4f} log-loss {s.log_loss:.4f}"
            for who, s in (("challenger", entry.challenger), ("champion", entry.champion))
            if s is not None
        ]
        console.print(f"{outcome}: " + " | ".join(parts))
    record(name=name, version=new_version, decision=decision)
    if not decision.promote:
        console.print("[red]Promotion refused:[/]")
        for line in decision.reasons:
            console.print(f"  - {line}")
        console.print('To promote anyway, give the reason: tarozu promote --accept-risk "..."')
        return 1
    registration.set_alias(name=name, alias=registry.CHAMPION, version=new_version.version)
    if decision.accepted_risk:
        console.print(f"[yellow]Promoted with accepted risk:[/] {decision.accepted_risk}")
    console.print(f"{name} version {new_version.version} is now @champion.")
    return 0
