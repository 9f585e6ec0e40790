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

import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.screening import ScreeningModel
from pipeline.config import PromotionConfig, TrainConfig
from pipeline.data.columns import LABELS
from pipeline.data.schema import load_dataset
from pipeline.data.synthetic import generate
from pipeline.errors import CommandError
from pipeline.fairness.gate import GateResult
from pipeline.metrics import score_metrics
from pipeline.modelcard import ModelCard, write_card
from serving import registry

NO_CHALLENGER = "there is no @challenger to promote: train one first with `tarozu train`"
ALREADY = "@challenger (version {version}) is already @champion; nothing to do"
EMPTY_REASON = '--accept-risk needs a reason in words, e.g. --accept-risk "reviewed by ...; because ..."'
AUROC_WORSE = "{outcome}: AUROC {new:.4f} is worse than the champion's {old:.4f} by more than {margin}"
LOG_LOSS_WORSE = "{outcome}: log-loss {new:.4f} is worse than the champion's {old:.4f} by more than {margin:.0%}"


@dataclass(frozen=True)
class Scores:
    """One model's threshold-free metrics on one outcome of the evaluation data."""

    auroc: float
    log_loss: float
    ece: float

    def to_json(self) -> dict[str, float]:
        return {"auroc": self.auroc, "log_loss": self.log_loss, "ece": self.ece}


@dataclass(frozen=True)
class OutcomeComparison:
    """The challenger's and (if there is one scoring this outcome) the champion's scores."""

    challenger: Scores
    champion: Scores | None = None

    def to_json(self) -> dict[str, dict[str, float]]:
        out = {"challenger": self.challenger.to_json()}
        if self.champion is not None:
            out["champion"] = self.champion.to_json()
        return out


@dataclass(frozen=True)
class PromotionDecision:
    """What ``tarozu promote`` decided, and why.

    ``passed``: no refusal reason (no worse than the champion, and the fairness gate passes).
    ``promote``: @champion moves; true when it passed, or when a reason to accept the risk was
    given. ``accepted_risk`` is that reason, kept only when it overrode a refusal.
    """

    promote: bool
    passed: bool
    comparison: Mapping[str, OutcomeComparison]
    gate: GateResult
    reasons: tuple[str, ...] = ()
    accepted_risk: str | None = None

    @property
    def gate_verdict(self) -> str:
        return self.gate.verdict

    def to_json(self) -> dict[str, Any]:
        """The record logged with the challenger's run (``promotion/promotion-<time>.json``)."""
        return {
            "promoted": self.promote,
            "accepted_risk": self.accepted_risk,
            "refusal_reasons": list(self.reasons),
            "comparison": {o: c.to_json() for o, c in self.comparison.items()},
            "fairness_gate": self.gate.to_json(),
        }


def accepted_reason(text: str | None) -> str | None:
    """The ``--accept-risk`` reason, or None when none was given; a blank reason is refused."""
    if text is None:
        return None
    if not text.strip():
        raise CommandError(EMPTY_REASON)
    return text


def decide(
    *,
    challenger: Mapping[str, Scores],
    champion: Mapping[str, Scores] | None,
    gate: GateResult,
    config: PromotionConfig,
    accepted_risk: str | None = None,
) -> PromotionDecision:
    """The promotion decision from the two models' scores and the gate's result (no I/O).

    Refused when, on an outcome both models score, the challenger's AUROC is lower by more than
    ``max_auroc_drop`` or its log-loss higher by more than ``max_log_loss_increase`` (relative),
    or when the gate blocks; promoted anyway when ``accepted_risk`` gives a reason.
    """
    reason = accepted_reason(accepted_risk)
    reasons: list[str] = []
    comparison: dict[str, OutcomeComparison] = {}
    for outcome, new in challenger.items():
        old = (champion or {}).get(outcome)
        comparison[outcome] = OutcomeComparison(challenger=new, champion=old)
        if old is None:
            continue
        if new.auroc < old.auroc - config.max_auroc_drop:
            reasons.append(
                AUROC_WORSE.format(outcome=outcome, new=new.auroc, old=old.auroc, margin=config.max_auroc_drop)
            )
        if new.log_loss > old.log_loss * (1 + config.max_log_loss_increase):
            reasons.append(
                LOG_LOSS_WORSE.format(
                    outcome=outcome, new=new.log_loss, old=old.log_loss, margin=config.max_log_loss_increase
                )
            )
    reasons.extend(gate.blocking)
    passed = not reasons
    return PromotionDecision(
        promote=passed or reason is not None,
        passed=passed,
        comparison=comparison,
        gate=gate,
        reasons=tuple(reasons),
        accepted_risk=None if passed else reason,
    )


def evaluation_frame(config: TrainConfig, data: str | None) -> pd.DataFrame:
    """The data both models are scored on: a file, or fresh synthetic data from the promotion seed."""

    if data:
        return load_dataset(data).frame

    return generate(
        rows=config.promotion.evaluation_rows,
        seed=config.promotion.evaluation_seed,
        scenario=config.data.scenario,
    )


def probabilities(model: ScreeningModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    codes = model.encoder.transform(frame).to_numpy()
    return model.predict_proba(codes)


def scores(model: ScreeningModel, frame: pd.DataFrame) -> dict[str, Scores]:
    """AUROC, log-loss and ECE of each of the model's outcomes on ``frame``."""
    metrics = score_metrics()
    p = probabilities(model, frame)
    out = {}
    for outcome in model.outcome_names:
        y = frame[LABELS[outcome]].to_numpy()
        out[outcome] = Scores(**{m: float(metrics[m](y, p[outcome])) for m in ("auroc", "log_loss", "ece")})
    return out


def record(*, name: str, version: Any, decision: PromotionDecision) -> None:
    """Write the decision to the challenger's run and model version, and update its model card."""
    import mlflow

    c = registry.client()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    accepted_risk = decision.accepted_risk
    state = "promoted" if decision.promote else "refused"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"promotion-{stamp.replace(':', '')}.json"
        path.write_text(json.dumps({"at": stamp, **decision.to_json()}, indent=1, default=float), encoding="utf-8")
        c.log_artifact(version.run_id, str(path), artifact_path="promotion")
        if accepted_risk:
            card_path = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path="model_card/model_card.json"
            )
            card = ModelCard.from_json(json.loads(Path(card_path).read_text(encoding="utf-8")))
            card = card.with_accepted_risk(at=stamp, reason=accepted_risk, overridden=decision.reasons)
            write_card(card, Path(tmp) / "model_card")
            c.log_artifacts(version.run_id, str(Path(tmp) / "model_card"), artifact_path="model_card")
    c.set_model_version_tag(name, version.version, "fairness_gate", decision.gate_verdict)
    c.set_model_version_tag(name, version.version, "promotion", state)
    if accepted_risk:
        c.set_tag(version.run_id, "tarozu.accepted_risk", accepted_risk[:5000])
        c.set_model_version_tag(name, version.version, "accepted_risk", accepted_risk[:5000])
        description = c.get_model_version(name, version.version).description or ""
        note = f"Promoted on {stamp} despite {len(decision.reasons)} refusal reason(s); accepted risk: {accepted_risk}"
        c.update_model_version(name, version.version, description=f"{description}\n{note}".strip()[:5000])
    c.set_tag(version.run_id, "tarozu.promotion", state)
