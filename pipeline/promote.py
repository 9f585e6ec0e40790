"""``tarozu promote``: move ``@champion`` to ``@challenger`` only if it is no worse and fair.

The challenger and the champion are scored on the same evaluation data. Promotion is
refused when the challenger is worse beyond the configured margins on any outcome, or
when the fairness gate (:mod:`pipeline.fairness.gate`) finds a disparity in the miss rate or
the false-alarm rate of a group, or a large group that the data could not check (the power
rule), unless ``--accept-risk "reason"`` is given; the reason is recorded on the run, the
model version (tags ``accepted_risk``, ``fairness_gate``, ``promotion``; the description)
and the model card.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from models.screening import ScreeningModel
from pipeline import registry
from pipeline.cli import CommandError
from pipeline.config import TrainConfig, load_config
from pipeline.metrics import score_metrics
from pipeline.modeling import LABELS

NO_CHALLENGER = "there is no @challenger to promote: train one first with `tarozu train`"
ALREADY = "@challenger (version {version}) is already @champion; nothing to do"
EMPTY_REASON = '--accept-risk needs a reason in words, e.g. --accept-risk "reviewed by ...; because ..."'


@dataclass
class PromotionDecision:
    promote: bool
    comparison: dict[str, Any]
    fairness: dict[str, Any]
    reasons: list[str] = field(default_factory=list)

    @property
    def gate_verdict(self) -> str:
        return str(self.fairness.get("verdict", "not run"))


def evaluation_frame(config: TrainConfig, data: str | None) -> pd.DataFrame:
    """The data both models are scored on: a file, or fresh synthetic data from the promotion seed."""
    from pipeline.data.schema import load_dataset

    if data:
        return load_dataset(data).frame
    from pipeline.data.synthetic import generate

    return generate(
        rows=config.promotion.evaluation_rows,
        seed=config.promotion.evaluation_seed,
        scenario=config.data.scenario,
    )


def probabilities(model: ScreeningModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    codes = model.encoder.transform(frame).to_numpy()
    return model.predict_proba(codes)


def compare(
    challenger: ScreeningModel, champion: ScreeningModel | None, frame: pd.DataFrame, config: TrainConfig
) -> tuple[dict[str, Any], list[str]]:
    """Per outcome, AUROC and log-loss of both models; reasons to refuse, if any."""
    metrics = score_metrics()
    p_new = probabilities(challenger, frame)
    p_old = probabilities(champion, frame) if champion else {}
    comparison: dict[str, Any] = {}
    reasons: list[str] = []
    for outcome in challenger.outcome_names:
        y = frame[LABELS[outcome]].to_numpy()
        new = {m: metrics[m](y, p_new[outcome]) for m in ("auroc", "log_loss", "ece")}
        entry: dict[str, Any] = {"challenger": new}
        if champion and outcome in p_old:
            old = {m: metrics[m](y, p_old[outcome]) for m in ("auroc", "log_loss", "ece")}
            entry["champion"] = old
            if new["auroc"] < old["auroc"] - config.promotion.max_auroc_drop:
                reasons.append(
                    f"{outcome}: AUROC {new['auroc']:.4f} is worse than the champion's {old['auroc']:.4f} "
                    f"by more than {config.promotion.max_auroc_drop}"
                )
            if new["log_loss"] > old["log_loss"] * (1 + config.promotion.max_log_loss_increase):
                reasons.append(
                    f"{outcome}: log-loss {new['log_loss']:.4f} is worse than the champion's "
                    f"{old['log_loss']:.4f} by more than {config.promotion.max_log_loss_increase:.0%}"
                )
        comparison[outcome] = entry
    return comparison, reasons


def decide(
    challenger: ScreeningModel, champion: ScreeningModel | None, frame: pd.DataFrame, config: TrainConfig
) -> PromotionDecision:
    from pipeline.fairness.gate import GateSettings, fairness_gate

    comparison, reasons = compare(challenger, champion, frame, config)
    rules = config.promotion.fairness
    metrics = {"miss_rate": "fnr", "false_alarm_rate": "fpr"}
    settings = GateSettings(
        block_on=tuple(metrics[m] for m in rules.block_on),
        max_detectable=rules.max_detectable,
        min_share=rules.min_share,
    )
    gate = fairness_gate(challenger, frame, settings)
    reasons.extend(gate.blocking)
    return PromotionDecision(promote=not reasons, comparison=comparison, fairness=gate.summary, reasons=reasons)


def record(*, name: str, version: Any, decision: PromotionDecision, accepted_risk: str | None, promoted: bool) -> None:
    """Write the decision to the challenger's run and model version, and update its model card."""
    import mlflow

    c = registry.client()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = {
        "at": stamp,
        "promoted": promoted,
        "accepted_risk": accepted_risk,
        "refusal_reasons": decision.reasons,
        "comparison": decision.comparison,
        "fairness_gate": decision.fairness,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"promotion-{stamp.replace(':', '')}.json"
        path.write_text(json.dumps(payload, indent=1, default=float), encoding="utf-8")
        c.log_artifact(version.run_id, str(path), artifact_path="promotion")
        if accepted_risk:
            from pipeline.train import write_card

            card_path = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path="model_card/model_card.json"
            )
            card = json.loads(Path(card_path).read_text(encoding="utf-8"))
            card.setdefault("accepted_risks", []).append(
                {"at": stamp, "reason": accepted_risk, "overridden": decision.reasons}
            )
            card["caveats_and_recommendations"].insert(
                0,
                f"Promoted on {stamp} despite: {'; '.join(decision.reasons)}. Accepted risk: {accepted_risk}",
            )
            write_card(card, Path(tmp) / "model_card")
            c.log_artifacts(version.run_id, str(Path(tmp) / "model_card"), artifact_path="model_card")
    c.set_model_version_tag(name, version.version, "fairness_gate", decision.gate_verdict)
    c.set_model_version_tag(name, version.version, "promotion", "promoted" if promoted else "refused")
    if accepted_risk:
        c.set_tag(version.run_id, "tarozu.accepted_risk", accepted_risk[:5000])
        c.set_model_version_tag(name, version.version, "accepted_risk", accepted_risk[:5000])
        description = c.get_model_version(name, version.version).description or ""
        note = f"Promoted on {stamp} despite {len(decision.reasons)} refusal reason(s); accepted risk: {accepted_risk}"
        c.update_model_version(name, version.version, description=f"{description}\n{note}".strip()[:5000])
    c.set_tag(version.run_id, "tarozu.promotion", "promoted" if promoted else "refused")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="training config whose promotion section applies")
    parser.add_argument("--data", help="evaluation data file (default: fresh synthetic data)")
    parser.add_argument("--accept-risk", metavar="REASON", help="promote despite a refusal; the reason is recorded")


def run(args: argparse.Namespace) -> int:
    console = Console()
    config = load_config(args.config)
    name = config.registry.model_name
    if args.accept_risk is not None and not args.accept_risk.strip():
        raise CommandError(EMPTY_REASON)
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
    decision = decide(challenger, champion, frame, config)
    for outcome, entry in decision.comparison.items():
        parts = [
            f"{who} AUROC {entry[who]['auroc']:.4f} log-loss {entry[who]['log_loss']:.4f}"
            for who in ("challenger", "champion")
            if who in entry
        ]
        console.print(f"{outcome}: " + " | ".join(parts))
    promoted = decision.promote or bool(args.accept_risk)
    record(
        name=name,
        version=new_version,
        decision=decision,
        accepted_risk=args.accept_risk if not decision.promote else None,
        promoted=promoted,
    )
    if not promoted:
        console.print("[red]Promotion refused:[/]")
        for reason in decision.reasons:
            console.print(f"  - {reason}")
        console.print('To promote anyway, give the reason: tarozu promote --accept-risk "..."')
        return 1
    registry.set_alias(name=name, alias=registry.CHAMPION, version=new_version.version)
    if decision.reasons:
        console.print(f"[yellow]Promoted with accepted risk:[/] {args.accept_risk}")
    console.print(f"{name} version {new_version.version} is now @champion.")
    return 0
