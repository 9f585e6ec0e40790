"""The interview benchmark's simulation on a small hand-made model: orders, short forms, figures."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import interview as bench
from models.engine import ScreeningEngine
from models.questionnaire import NOT_ASKED, STATUS_FIELD, load_questionnaire
from tests.support.factories import make_model


@pytest.fixture(scope="module")
def engine() -> ScreeningEngine:
    return ScreeningEngine(make_model(seed=3, n_members=0))


def person(engine: ScreeningEngine, status: str, answers: dict[str, str]) -> np.ndarray:
    """A returnee (or other) who answers every applicable question: ``no`` unless ``answers`` says otherwise."""
    q = load_questionnaire()
    values = {f.id: answers.get(f.id, "no") for f in q.indicators if f.applies(status)}
    return engine.encode({STATUS_FIELD: status, "destination": "RUS", **values})


def test_blank_keeps_context_and_unasks_every_question(engine: ScreeningEngine) -> None:
    model = engine.model
    codes = person(engine, "returnee", {})
    empty = bench.blank(model, codes)
    assert bench.asked_count(model, codes)[0] == len(load_questionnaire().applicable("returnee"))
    assert bench.asked_count(model, empty)[0] == 0
    context = np.setdiff1d(np.arange(len(codes)), bench.indicator_columns(model))
    np.testing.assert_array_equal(empty[context], codes[context])


def test_prospective_migrants_are_asked_only_what_applies(engine: ScreeningEngine) -> None:
    codes = person(engine, "prospective", {})
    applicable = len(load_questionnaire().applicable("prospective"))
    assert bench.asked_count(engine.model, codes)[0] == applicable
    asked, last = bench.adaptive_interview(engine, codes)
    assert asked <= applicable
    assert last.status in ("refer", "no_referral", "ask_more")


def test_adaptive_interview_follows_the_engine_and_stops_when_settled(engine: ScreeningEngine) -> None:
    model = engine.model
    seen = []
    # someone who says yes to every strong indicator: whichever the engine asks first, it hears a yes
    strong = [f.id for f in load_questionnaire().indicators if f.strength == "strong"]
    for answers in ({}, dict.fromkeys(strong, "yes")):
        codes = person(engine, "returnee", answers)
        asked, last = bench.adaptive_interview(engine, codes)
        assert asked >= 1  # an empty form is never settled on this model
        # Replay: each step asks the engine's first next question and reveals the recorded answer.
        current = bench.blank(model, codes)
        for _ in range(asked):
            step = engine.assess(current)
            assert step.status == "ask_more"
            j = model.fields.index(step.next_questions[0][0])
            assert current[j] != codes[j]
            current[j] = codes[j]
        assert engine.assess(current) == last
        assert last.status != "ask_more" or not last.next_questions
        assert bench.asked_count(model, current)[0] == asked
        if last.status == "refer":
            assert bench.point_refers(model, last)
        seen.append(last.status)
    assert seen == ["no_referral", "refer"]


def test_adaptive_interview_refuses_a_person_without_answers(engine: ScreeningEngine) -> None:
    empty = engine.encode({STATUS_FIELD: "returnee"})
    first = engine.assess(empty)
    assert first.status == "ask_more"
    with pytest.raises(ValueError, match="no recorded answer"):
        bench.adaptive_interview(engine, empty)


def test_full_interview_decision_is_the_point_rule(engine: ScreeningEngine) -> None:
    model = engine.model
    for answers in ({}, {"documents_withheld": "yes", "debt_bondage": "yes"}, {"sexual_violence": "dont_know"}):
        assessment = engine.assess(person(engine, "returnee", answers))
        assert assessment.settled
        assert bench.refers(assessment) == bench.point_refers(model, assessment)


def test_greedy_short_form_picks_the_informative_question_first(engine: ScreeningEngine) -> None:
    model = engine.model
    rng = np.random.default_rng(0)
    n = 400
    truth = rng.random(n) < 0.3
    rows = []
    for victim in truth:
        answers = {
            "documents_withheld": "yes" if victim else "no",
            "economic_pressure": "yes" if rng.random() < 0.5 else "no",
        }
        rows.append(person(engine, "returnee", answers))
    codes = np.vstack(rows)
    labels = {"labour": truth.astype(int), "sexual": np.zeros(n, dtype=int)}
    chosen = bench.greedy_short_form(model, codes, labels, size=3)
    assert chosen[0] == "documents_withheld"
    assert len(set(chosen)) == 3
    # The additive tables give the model's own probabilities.
    parts = bench.outcome_log_odds(model, codes)
    for name, part in parts.items():
        np.testing.assert_allclose(
            model.outcomes[name].base_value + part.sum(axis=1), model.score_codes(codes)[name].log_odds
        )


def test_fixed_form_codes_ask_only_the_form(engine: ScreeningEngine) -> None:
    model = engine.model
    codes = np.vstack([person(engine, "returnee", {}), person(engine, "prospective", {})])
    form = ["deceived_wages", "debt_bondage"]  # debt_bondage does not apply to prospective migrants
    out = bench.fixed_form_codes(model, codes, form)
    np.testing.assert_array_equal(bench.asked_count(model, out), [2, 1])
    j = model.fields.index("deceived_job_nature")
    assert model.encoder.fields[j].levels[out[0, j]] == NOT_ASKED


def test_referral_summary() -> None:
    s = bench.referral_summary(
        asked=np.array([1, 2, 3, 10]),
        refer=np.array([True, False, True, False]),
        full_refer=np.array([True, False, False, False]),
        truth=np.array([True, True, False, False]),
    )
    assert s["agreement"] == 0.75
    assert s["sensitivity"] == 0.5
    assert s["specificity"] == 0.5
    assert s["mean_questions"] == 4.0
    assert s["referred"] == 0.5


def test_population_rates_match_the_config() -> None:
    rates = bench.population_rates()
    assert 0.05 < rates["returnee"]["labour"] < 0.09
    assert rates["returnee"]["sexual"] < rates["returnee"]["labour"]
    assert min(r[o] for r in rates.values() for o in ("labour", "sexual")) > 0


def test_first_looks_of_rule_2s_size_are_rule_2_person_by_person(
    engine: ScreeningEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 4 interviews the same people with the outlook's first look at other sizes: at rule 2's own
    size it is rule 2, person by person (no question more or fewer, the same decisions); at another,
    its figures are the paired differences of the questions asked."""
    from rich.console import Console

    from models.interview import FIRST_DRAWS

    strong = [f.id for f in load_questionnaire().indicators if f.strength == "strong"]
    people = np.array(
        [
            person(engine, status, answers)
            for status in ("returnee", "prospective")
            for answers in ({}, dict.fromkeys(strong[:2], "yes"), dict.fromkeys(strong, "yes"))
        ]
    )
    runs = [bench.adaptive_interview(engine, row) for row in people]
    adaptive = bench.OrderFigures(
        "adaptive",
        np.array([k for k, _ in runs]),
        np.array([bench.refers(a) for _, a in runs]),
        np.array([a.status == "ask_more" for _, a in runs]),
    )
    full_refer = np.array([bench.refers(a) for a in engine.assess_many(people)])
    monkeypatch.setattr(bench, "FIRST_LOOKS", (FIRST_DRAWS, 64))
    truth = np.zeros(len(people), dtype=bool)  # not used by these figures
    found = bench.bench_first_looks(Console(quiet=True), engine, people, adaptive, full_refer, truth)
    same = found[FIRST_DRAWS]
    assert (same["more_per_person"], same["asked_more"], same["asked_fewer"]) == (0.0, 0.0, 0.0)
    assert same["agreement"] == np.mean(adaptive.refer == full_refer)
    other = found[64]
    assert other["mean_questions"] == pytest.approx(adaptive.asked.mean() + other["more_per_person"])
    assert other["asked_more"] + other["asked_fewer"] <= 1.0
    assert other["standard_error"] >= 0.0
