"""The engine the API serves agrees with a naive reference scorer (``oracle.py``) on random cases.

The oracle recomputes, with plain loops over the model's tables, the log-odds, probability,
interval, band, the evidence-only explanation with its base value (migrant_status folded in),
the interview counts and the status rule; the one thing it does not recompute is whether a
decision is settled (that samples): it calls :func:`models.interview.outlook` itself on arrays
it built from the tables, and checks the engine's status follows from that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from models.engine import Interview, ScreeningEngine
from models.interview import CommonDraws, outlook
from models.logodds import expit
from models.questionnaire import LANGUAGES, QuestionnaireError, load_questionnaire
from tests.support import oracle
from tests.support.factories import make_model, with_base_shift

Q = load_questionnaire()
MODELS = {n: make_model(seed, n_members=n) for seed, n in ((0, 20), (1, 0), (2, 7))}
ENGINES = {n: ScreeningEngine(m) for n, m in MODELS.items()}
DANGER = ("yes", "no", "declined", "not_asked")
ASSESSMENTS = (None, "low", "medium", "high")
_DRAWS: dict[int, CommonDraws] = {}


def common_draws(model: Any, ref: Any) -> Any:
    """Rule 2's outlook of the oracle's case, from draws made from the model's tables (once per model)."""
    draws_kw, case_kw = oracle.common_draws_inputs(model, ref)
    if id(model) not in _DRAWS:
        _DRAWS[id(model)] = CommonDraws(**draws_kw)
    return _DRAWS[id(model)].outlook(**case_kw)


def value_strategy(f: Any) -> st.SearchStrategy[Any]:
    if f.numeric:
        return st.one_of(st.integers(f.bins[0][1], f.bins[-1][2]), st.sampled_from(f.levels))
    return st.sampled_from(f.levels)


cases = st.fixed_dictionaries({}, optional={f.id: value_strategy(f) for f in Q.all_fields})
interviews = st.builds(Interview, danger=st.sampled_from(DANGER), screener_assessment=st.sampled_from(ASSESSMENTS))


def random_case(rng: np.random.Generator, *, p_absent: float = 0.3) -> dict[str, Any]:
    """A case over every field; about ``p_absent`` of them left out (not asked / not recorded)."""
    case: dict[str, Any] = {}
    for f in Q.all_fields:
        if rng.random() < p_absent:
            continue
        if f.numeric and rng.random() < 0.5:
            case[f.id] = int(rng.integers(f.bins[0][1], f.bins[-1][2] + 1))
        else:
            case[f.id] = str(rng.choice(f.levels))
    return case


def check_against_oracle(engine: ScreeningEngine, case: dict[str, Any], interview: Interview, lang: str) -> None:
    model = engine.model
    ref = oracle.score(model, case, danger=interview.danger, screener_assessment=interview.screener_assessment)
    codes = engine.encode(case)
    assert codes.tolist() == ref.codes
    a = engine.assess(codes, interview)
    # ---- numbers per outcome
    for name, o in ref.outcomes.items():
        got = a.outcomes[name]
        assert got.log_odds == pytest.approx(o.log_odds, abs=1e-9)
        assert got.probability == pytest.approx(o.probability, abs=1e-12)
        assert got.interval == pytest.approx((o.lower, o.upper), abs=1e-9)
        assert got.band == o.band
        assert got.above_threshold is o.above_threshold
        assert got.base_value == pytest.approx(o.base_value, abs=1e-12)
        assert list(got.contributions) == list(o.contributions)  # same fields, in field order
        assert got.contributions == pytest.approx(o.contributions, abs=1e-12)
        assert got.base_value + sum(got.contributions.values()) == pytest.approx(got.log_odds, abs=1e-9)
    # ---- counts, urgency and the status rule, under each outlook rule (rule 1 recomputes old screenings)
    assert a.counts == ref.counts
    assert a.urgent is ref.urgent
    assert a.outlook_rule == 2
    for rule, view, names in (
        (1, outlook(**oracle.outlook_inputs(model, ref)), ref.unasked),
        (2, common_draws(model, ref), [fid for fid in model.fields if fid in ref.unasked]),
    ):
        got = a if rule == 2 else engine.assess(codes, interview, rule=1)
        assert got.settled is view.settled
        assert got.flip_chance == pytest.approx(view.flip_chance, abs=1e-12)
        assert got.status == ref.status(view.settled)
        assert (got.status, got.tier, got.leaning_tier) == ref.decision(view.settled)
        assert got.refer is (got.status == "refer") is (got.tier in ("support", "nrm"))
        for k, name in enumerate(ref.outcomes):
            assert got.outcomes[name].range == pytest.approx(tuple(view.ranges[k]), abs=1e-12)
        assert [fid for fid, _ in got.next_questions] == [names[p] for p in view.order[:5]]
        assert set(fid for fid, _ in got.next_questions) <= set(ref.unasked)
    # ---- the described result
    d = engine.describe(a, lang=lang)
    assert d["recommendation"]["status"] == a.status
    assert d["recommendation"]["refer"] is a.refer
    assert (d["recommendation"]["tier"], d["recommendation"]["leaning_tier"]) == (a.tier, a.leaning_tier)
    assert d["recommendation"]["urgent"] is ref.urgent
    assert {k: v for k, v in d["interview"].items() if k != "text"} == ref.counts
    if lang == "en":
        assert d["interview"]["text"] == ref.interview_text()
    for name, o in ref.outcomes.items():
        e = d["outcomes"][name]["explanation"]
        listed = {c["field"]: c for c in e["contributions"]}
        assert set(listed) == set(o.contributions)
        for fid, c in listed.items():
            assert c["answer"] == ref.levels[fid]
            assert c["contribution"] == pytest.approx(o.contributions[fid], abs=1e-12)
            assert c["direction"] == (
                "raises" if c["contribution"] > 0 else "lowers" if c["contribution"] < 0 else "none"
            )
        magnitudes = [abs(c["contribution"]) for c in e["contributions"]]
        assert magnitudes == sorted(magnitudes, reverse=True)
        # against the oracle's log-odds, not the logit of its probability (which loses the digits near 0 and 1)
        assert e["base_value"] + sum(c["contribution"] for c in e["contributions"]) == pytest.approx(
            o.log_odds, abs=1e-9
        )
    for item in d["next_questions"]:
        j = model.fields.index(item["indicator"])
        for name, o in ref.outcomes.items():
            table = model.outcomes[name].contributions[j]
            assert item["if_yes"][name] == pytest.approx(oracle.logistic(o.log_odds + table[0]), abs=1e-12)
            assert item["if_no"][name] == pytest.approx(oracle.logistic(o.log_odds + table[1]), abs=1e-12)
            # and exactly the scalar logistic of the engine's own log-odds: logged responses are rebuilt byte for byte
            now = a.outcomes[name].log_odds
            assert item["if_yes"][name] == float(expit(now + table[0]))
            assert item["if_no"][name] == float(expit(now + table[1]))
    # ---- the flat record of /invocations and the pyfunc
    flat = engine.flat(a)
    for name, o in ref.outcomes.items():
        assert flat[f"{name}_probability"] == pytest.approx(o.probability, abs=1e-12)
        assert (flat[f"{name}_lower"], flat[f"{name}_upper"]) == pytest.approx((o.lower, o.upper), abs=1e-9)
        assert flat[f"{name}_band"] == o.band
        assert flat[f"{name}_above_threshold"] is o.above_threshold
        assert flat[f"{name}_base_value"] == pytest.approx(o.base_value, abs=1e-12)
        assert flat[f"{name}_log_odds"] == pytest.approx(o.log_odds, abs=1e-9)
        top = sorted(o.contributions, key=lambda f: -abs(o.contributions[f]))[:3]
        expected = ";".join(f"{fid}={ref.levels[fid]}:{o.contributions[fid]:+.4f}" for fid in top)
        assert flat[f"{name}_top_reasons"] == expected
    assert (flat["status"], flat["refer"], flat["settled"]) == (a.status, a.refer, a.settled)
    assert (flat["referral_tier"], flat["leaning_tier"]) == (a.tier, a.leaning_tier)
    # ---- the screener's view: the same result without a probability of either type
    hidden = engine.describe(a, lang=lang, probabilities=False)
    assert hidden["recommendation"] == d["recommendation"]
    for name in ref.outcomes:
        shown, kept = d["outcomes"][name], hidden["outcomes"][name]
        assert not {"probability", "interval", "range", "threshold"} & set(kept)
        assert set(kept["explanation"]) == {"contributions"}
        assert kept["explanation"]["contributions"] == shown["explanation"]["contributions"]
        assert (kept["band"], kept["band_label"]) == (shown["band"], shown["band_label"])
    assert [q["indicator"] for q in hidden["next_questions"]] == [q["indicator"] for q in d["next_questions"]]
    assert all(not {"if_yes", "if_no"} & set(q) for q in hidden["next_questions"])
    assert flat["next_questions"] == ";".join(fid for fid, _ in a.next_questions)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("members", sorted(MODELS))
def test_engine_equals_the_oracle_on_random_cases(seed: int, members: int) -> None:
    rng = np.random.default_rng(seed)
    engine = ENGINES[members]
    for _ in range(12):
        interview = Interview(danger=str(rng.choice(DANGER)), screener_assessment=ASSESSMENTS[rng.integers(4)])
        check_against_oracle(engine, random_case(rng, p_absent=float(rng.random())), interview, "en")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases, interview=interviews, members=st.sampled_from(sorted(MODELS)), lang=st.sampled_from(LANGUAGES))
def test_engine_equals_the_oracle_for_any_case(
    case: dict[str, Any], interview: Interview, members: int, lang: str
) -> None:
    check_against_oracle(ENGINES[members], case, interview, lang)


@pytest.mark.parametrize("shift", [0.0, 2.5])
def test_the_oracle_sees_the_status_rule_where_no_sampling_decides(shift: float) -> None:
    """Every applicable question answered: the decision is settled exactly (nothing left to ask)."""
    engine = ScreeningEngine(with_base_shift(MODELS[20], shift))
    rng = np.random.default_rng(7)
    seen = set()
    for i in range(80):
        status = str(rng.choice(["returnee", "prospective", "family_member"]))
        case: dict[str, Any] = {"migrant_status": status}
        # every fourth form has no yes at all, whatever the size of the questionnaire
        answer_p = [0.0, 0.7, 0.2, 0.1] if i % 4 == 0 else [0.15, 0.55, 0.2, 0.1]
        for f in Q.applicable(status):
            case[f.id] = str(rng.choice(["yes", "no", "dont_know", "declined"], p=answer_p))
        interview = Interview(danger=str(rng.choice(DANGER)), screener_assessment=ASSESSMENTS[rng.integers(4)])
        ref = oracle.score(
            engine.model, case, danger=interview.danger, screener_assessment=interview.screener_assessment
        )
        assert ref.unasked == []
        a = engine.assess(engine.encode(case), interview)
        assert (a.settled, a.flip_chance) == (True, 0.0)
        assert a.status == ref.status(settled=True)
        seen.add(a.status)
    # every branch of the rule is taken: with the base shifted up, forms without a yes are
    # above the threshold and must ask for more rather than refer
    assert seen >= ({"refer", "no_referral"} if shift == 0 else {"refer", "ask_more"})


@pytest.mark.parametrize("n", [1, 3, 8, 300])  # 300: more cases than one product of the outlook takes
def test_batch_assessments_equal_single_ones(n: int) -> None:
    engine = ENGINES[20]
    rng = np.random.default_rng(n)
    batch = [random_case(rng) for _ in range(n)]
    interviews = [Interview(danger=str(rng.choice(DANGER))) for _ in range(n)]
    together = engine.assess_many(engine.encode_many(batch), interviews)
    for case, interview, a in zip(batch, interviews, together, strict=True):
        alone = engine.assess(engine.encode(case), interview)
        assert a == alone
        assert engine.render(a) == engine.render(alone)


def test_encode_refuses_values_outside_the_questionnaire() -> None:
    engine = ENGINES[20]
    with pytest.raises(QuestionnaireError, match="documents_withheld"):
        engine.encode({"documents_withheld": "maybe"})
    with pytest.raises(QuestionnaireError, match="documents_withheld"):
        engine.encode({"documents_withheld": "unknown"})  # no longer an answer: not_asked is
    with pytest.raises(QuestionnaireError, match="months_abroad"):
        engine.encode({"months_abroad": 601})


def test_the_oracle_is_not_the_engine() -> None:
    """The oracle really recomputes: a model with a shifted table changes its answer and not the other's."""
    model = make_model(0, n_members=0)
    engine = ScreeningEngine(model)
    case = {"migrant_status": "returnee", "documents_withheld": "yes"}
    before = oracle.score(model, case).outcomes["labour"].log_odds
    assert engine.assess(engine.encode(case)).outcomes["labour"].log_odds == pytest.approx(before, abs=1e-12)
    j = model.fields.index("documents_withheld")
    model.outcomes["labour"].contributions[j][0] += 1.0  # the engine's compiled matrices do not see this
    assert oracle.score(model, case).outcomes["labour"].log_odds == pytest.approx(before + 1.0, abs=1e-12)
