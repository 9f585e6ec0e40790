"""An integer points scorecard from an additive outcome model, for use on paper.

Each answer's points are its calibrated contribution divided by a common scale and rounded.
A blank (a question not asked, a declined answer, a context field not recorded) scores 0,
as it contributes 0 to the model: an answer given may add or take away points, a blank never
does. The total points map back to log-odds as ``offset + scale * points`` (``offset`` is the
empty form's log-odds), so the scorecard's bands follow the model's operating thresholds;
rounding costs a little accuracy, which the card reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from models.logodds import expit, logit
from models.questionnaire import load_texts
from models.screening import OutcomeModel, ScreeningModel


@dataclass(frozen=True)
class Scorecard:
    outcome: str
    scale: float
    offset: float
    points: dict[str, dict[str, int]]
    medium_from: int
    high_from: int

    def probability(self, total: int) -> float:
        return float(expit(self.offset + self.scale * total))

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "scale_log_odds_per_point": self.scale,
            "offset_log_odds": self.offset,
            "points": self.points,
            "bands": {
                "low": f"< {self.medium_from}",
                "medium": f"{self.medium_from}-{self.high_from - 1}",
                "high": f">= {self.high_from}",
            },
        }

    def to_markdown(self, *, lang: str = "en") -> str:
        texts = load_texts(lang)
        lines = [
            f"# Paper scorecard: {texts.raw['messages']['outcomes'][self.outcome]}",
            "",
            "Decision support only: a high total means *refer for a specialist assessment*, never that the",
            "person is a victim. Add the points of each answer given; answers not listed score 0, and so",
            "does a blank: a question not asked or declined is never evidence. A high total from blanks",
            "alone cannot happen; with few questions asked, ask more before deciding.",
            "",
            "| Question | Answer | Points |",
            "|---|---|---:|",
        ]
        for fid, levels in self.points.items():
            for level, pts in levels.items():
                if pts:
                    lines.append(f"| {texts.question(fid)} | {texts.value(fid, level)} | {pts:+d} |")
        lowest = sum(min(levels.values()) for levels in self.points.values())
        lines += [
            "",
            f"A blank form scores 0 points: {self.probability(0):.1%}.",
            "",
            "| Total points | Band | Probability at the lower end |",
            "|---|---|---:|",
            f"| below {self.medium_from} | {texts.raw['messages']['bands']['low']} | {self.probability(lowest):.1%} |",
            f"| {self.medium_from} to {self.high_from - 1} | {texts.raw['messages']['bands']['medium']} "
            f"| {self.probability(self.medium_from):.1%} |",
            f"| {self.high_from} or more | {texts.raw['messages']['bands']['high']} "
            f"| {self.probability(self.high_from):.1%} |",
            "",
            "| Total points | Estimated probability |",
            "|---:|---:|",
        ]
        top = max(self.high_from + 10, 10)
        for total in range(lowest, top + 1, max(1, (top - lowest) // 12)):
            lines.append(f"| {total} | {self.probability(total):.1%} |")
        return "\n".join(lines) + "\n"


def make_scorecard(model: ScreeningModel, outcome: str, *, max_points_per_answer: int = 10) -> Scorecard:
    """The scorecard of ``outcome`` with the strongest answer worth ``max_points_per_answer``."""
    om: OutcomeModel = model.outcomes[outcome]
    largest = max(float(np.abs(t).max()) for t in om.contributions)
    scale = largest / max_points_per_answer if largest > 0 else 1.0
    offset = om.base_value
    # the reference level of each field (blank) has contribution 0, so it rounds to 0 points
    points = {
        f.id: {level: round(float(v) / scale) for level, v in zip(f.levels, t, strict=True)}
        for f, t in zip(model.encoder.fields, om.contributions, strict=True)
    }
    return Scorecard(
        outcome=outcome,
        scale=scale,
        offset=offset,
        points=points,
        medium_from=int(np.ceil((float(logit(om.threshold)) - offset) / scale)),
        high_from=int(np.ceil((float(logit(om.high_threshold)) - offset) / scale)),
    )


def scorecard_points(card: Scorecard, model: ScreeningModel, codes: np.ndarray) -> np.ndarray:
    """Total points of cases given as level codes (to measure what rounding costs)."""
    codes = np.atleast_2d(codes)
    table = [np.array([card.points[f.id][lv] for lv in f.levels]) for f in model.encoder.fields]
    return np.sum([table[j][codes[:, j]] for j in range(codes.shape[1])], axis=0)
