"""A response's bytes are what earlier releases rendered from the same assessment.

Each logged screening keeps the SHA-256 of the response the person was given, and
``tarozu audit-log verify --recompute`` re-renders the logged case and compares. A change of
the renderer that moves one byte (the order of keys, a space, a number's form) breaks that
proof for every screening logged before it. These cases are assessments written out by hand
(no fitting, no sampling, nothing that rounds differently on another machine), rendered in
every language and form; ``data/rendered.json`` holds what the release before this test
rendered. If a change of the texts or of the response is intended, regenerate the file
(``python -m tests.models.test_rendering``) and say in the change that logs from before it
verify only with the release that wrote them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from models.engine import Assessment, OutcomeAssessment, ScreeningEngine
from models.questionnaire import LANGUAGES
from tests.support.factories import make_model

EXPECTED = Path(__file__).parent / "data" / "rendered.json"
ENGINE = ScreeningEngine(make_model(0))

_ANSWERS = {
    "referred": {
        "migrant_status": "returnee",
        "documents_withheld": "yes",
        "excessive_hours": "yes",
        "debt_bondage": "yes",
        "threats": "dont_know",
        "isolation": "declined",
        "wages_withheld": "no",
        "destination": "RUS",
        "sector": "construction",
    },
    "family, not settled": {
        "migrant_status": "family_member",
        "lost_contact": "yes",
        "economic_pressure": "no",
        "destination": "KAZ",
    },
}


def _outcome(probability: float, contributions: dict[str, float], *, band: str, above: bool) -> OutcomeAssessment:
    return OutcomeAssessment(
        probability=probability,
        interval=(probability * 0.8, min(1.0, probability * 1.2)),
        range=(probability * 0.5, min(1.0, probability * 1.5)),
        band=band,
        above_threshold=above,
        threshold=0.3,
        base_value=-2.25,
        log_odds=-2.25 + sum(contributions.values()),
        contributions=contributions,
    )


def assessments() -> dict[str, Assessment]:
    """Two cases: a settled referral with urgent danger, and a family member's interview not yet settled."""
    referred = Assessment(
        codes=tuple(int(c) for c in ENGINE.encode(_ANSWERS["referred"])),
        outcomes={
            "labour": _outcome(
                0.8125,
                {
                    "documents_withheld": 1.25,
                    "excessive_hours": 0.75,
                    "debt_bondage": 1.5,
                    "threats": 0.125,
                    "wages_withheld": -0.375,
                    "destination": 0.0625,
                    "sector": 0.25,
                },
                band="high",
                above=True,
            ),
            "sexual": _outcome(
                0.09375,
                {"documents_withheld": 0.25, "excessive_hours": -0.125, "debt_bondage": 0.0, "sector": -0.5},
                band="low",
                above=False,
            ),
        },
        status="refer",
        urgent=True,
        settled=True,
        flip_chance=0.015625,
        next_questions=(),
        counts={"total": 62, "answered": 4, "dont_know": 1, "declined": 1, "not_asked": 57, "not_applicable": 4},
        tier="nrm",
        leaning_tier="nrm",
    )
    family = Assessment(
        codes=tuple(int(c) for c in ENGINE.encode(_ANSWERS["family, not settled"])),
        outcomes={
            "labour": _outcome(0.25, {"lost_contact": 0.875, "economic_pressure": -0.25}, band="medium", above=False),
            "sexual": _outcome(0.125, {"lost_contact": 0.5, "destination": -0.0625}, band="low", above=False),
        },
        status="ask_more",
        urgent=False,
        settled=False,
        flip_chance=0.375,
        next_questions=(("could_not_leave", 0.5), ("documents_withheld", 0.25), ("recruitment_debt", 0.0)),
        counts={"total": 21, "answered": 2, "dont_know": 0, "declined": 0, "not_asked": 19, "not_applicable": 45},
        tier=None,
        leaning_tier="support",
    )
    return {"referred": referred, "family, not settled": family}


def rendered() -> dict[str, str]:
    """Every case in every language and form. The probabilities of the next questions' answers are
    worked out from the model by ``exp``, whose last bit may differ between machines, so the
    form with probabilities is rendered for the case without next questions."""
    out = {}
    for name, assessment in assessments().items():
        shown = (False, True) if not assessment.next_questions else (False,)
        for lang in LANGUAGES:
            for explain in ("compact", "full"):
                for probabilities in shown:
                    key = f"{name} | {lang} | {explain} | probabilities={probabilities}"
                    out[key] = ENGINE.render(
                        assessment, lang=lang, explain=explain, probabilities=probabilities
                    ).decode()
    return out


EXPECTED_RESPONSES: dict[str, str] = json.loads(EXPECTED.read_text(encoding="utf-8")) if EXPECTED.exists() else {}


@pytest.mark.parametrize("key", sorted(rendered()))
def test_a_response_is_the_bytes_earlier_releases_rendered(key: str) -> None:
    assert key in EXPECTED_RESPONSES, f"{key!r} is not in {EXPECTED.name}: regenerate it (see the module's docstring)"
    assert rendered()[key] == EXPECTED_RESPONSES[key]


def test_the_cases_cover_what_a_response_can_say() -> None:
    """The hand-written cases reach the texts that vary: urgency, a final tier and a leaning one,
    the family module's questions, reasons that raise and lower, every language."""
    texts = rendered()
    referred = json.loads(texts["referred | en | compact | probabilities=True"])
    family = json.loads(texts["family, not settled | en | full | probabilities=False"])
    assert referred["recommendation"]["urgent"]
    assert referred["recommendation"]["tier"] == "nrm"
    assert {r["direction"] for r in referred["outcomes"]["labour"]["reasons"]} == {"raises", "lowers"}
    assert family["recommendation"]["tier"] is None
    assert family["recommendation"]["leaning_tier"] == "support"
    assert [q["indicator"] for q in family["next_questions"]] == [
        "could_not_leave",
        "documents_withheld",
        "recruitment_debt",
    ]
    assert len({texts[f"referred | {lang} | compact | probabilities=False"] for lang in LANGUAGES}) == len(LANGUAGES)


if __name__ == "__main__":  # regenerate data/rendered.json from the current renderer
    EXPECTED.write_text(json.dumps(rendered(), ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {len(rendered())} responses to {EXPECTED}\n")
