"""Interview-aware screening, as users rely on it: a question not asked, or declined, is never
evidence; non-answers alone never refer; the danger question always does; consent, children and
questions that do not apply are refused before anything is scored or logged."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from models.engine import Interview, ScreeningEngine
from models.questionnaire import LANGUAGES, NOT_ASKED_REASONS, load_questionnaire
from models.screening import OutcomeModel, ScreeningModel
from serving.registry import RegisteredModel
from tests.support.api import ModelBox, auth, count_rows, example, registered, screen
from tests.support.factories import DONT_KNOW_CAP, make_model, with_base_shift

Q = load_questionnaire()
URL = "/v1/screenings"
STATUSES = ("returnee", "prospective", "family_member")
TABLES = ("screenings", "decisions", "outcomes", "corrections")
SHIFT = 3.0
"""Base values moved up so far that an empty form scores above the threshold (even 'high')."""


def all_rows(db_url: str) -> int:
    return sum(count_rows(db_url, t) for t in TABLES)


def shifted(shift: float) -> RegisteredModel:
    base = registered()
    return dataclasses.replace(base, model=with_base_shift(base.model, shift), version=f"shift-{shift}")


@pytest.fixture
def base_shift() -> float:
    return 0.0


@pytest.fixture
def model_box(base_shift: float) -> ModelBox:
    return ModelBox(current=shifted(base_shift) if base_shift else registered())


def form(status: str, fill: str, **answers: str) -> dict[str, Any]:
    """Every question that applies to ``status`` answered ``fill``, then ``answers``."""
    return {**{f.id: fill for f in Q.applicable(status)}, **answers}


# ---------------------------------------------------------------------------- no evidence
ENGINES = {seed: ScreeningEngine(make_model(seed, n_members=n)) for seed, n in ((0, 20), (3, 0), (4, 5))}


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_not_asked_and_declined_are_interchangeable(seed: int) -> None:
    """Switching any indicator between not_asked and declined changes no number and no reason."""
    engine = ENGINES[seed]
    rng = np.random.default_rng(seed)
    for _ in range(25):
        status = str(rng.choice([*STATUSES, "unknown"]))
        case: dict[str, Any] = {"migrant_status": status}
        for f in Q.indicators:
            case[f.id] = str(rng.choice(["yes", "no", "dont_know", "declined", "not_asked"]))
        for f in Q.context[1:]:
            if rng.random() < 0.5:
                case[f.id] = str(rng.choice(f.levels))
        silent = [fid for fid in Q.indicator_ids if case[fid] in ("declined", "not_asked")]
        flipped = dict(case)
        for fid in silent:
            if rng.random() < 0.5:
                flipped[fid] = "declined" if case[fid] == "not_asked" else "not_asked"
        everything = {**case, **{fid: ("declined" if case[fid] == "not_asked" else "not_asked") for fid in silent}}
        a = engine.assess(engine.encode(case))
        for other in (flipped, everything):
            b = engine.assess(engine.encode(other))
            if other is everything:
                assert b.codes != a.codes or not silent
            for name in a.outcomes:
                oa, ob = a.outcomes[name], b.outcomes[name]
                assert (ob.log_odds, ob.probability, ob.interval) == (oa.log_odds, oa.probability, oa.interval)
                assert (ob.band, ob.base_value, ob.above_threshold) == (oa.band, oa.base_value, oa.above_threshold)
                assert ob.contributions == oa.contributions
            da, db = engine.describe(a), engine.describe(b)
            for name in a.outcomes:
                assert db["outcomes"][name]["explanation"] == da["outcomes"][name]["explanation"]
                assert db["outcomes"][name]["probability"] == da["outcomes"][name]["probability"]


@pytest.mark.parametrize("settings_overrides", [{"show_probabilities_to_screeners": True}])  # compares probabilities
def test_declined_and_not_asked_give_the_same_scores_through_the_api(client: TestClient, keys: dict[str, str]) -> None:
    answered = {"documents_withheld": "yes", "excessive_hours": "no", "threats": "dont_know"}
    skipped = ("debt_bondage", "isolation", "physical_violence")
    results = [
        screen(client, keys, answers={**answered, **{f: fill for f in skipped}}, not_asked_reasons={})
        for fill in ("declined", "not_asked")
    ]
    left_out = screen(client, keys, answers=answered, not_asked_reasons={})
    for name in ("labour", "sexual"):
        a, b, c = (r["outcomes"][name] for r in (*results, left_out))
        assert a["probability"] == b["probability"] == c["probability"]
        assert a["reasons"] == b["reasons"] == c["reasons"]
    assert results[0]["interview"]["declined"] == 3
    assert results[1]["interview"]["declined"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers=st.dictionaries(
        st.sampled_from(Q.indicator_ids), st.sampled_from(("yes", "no", "dont_know", "declined", "not_asked"))
    ),
    context=st.fixed_dictionaries({}, optional={f.id: st.sampled_from(f.levels) for f in Q.context}),
    lang=st.sampled_from(LANGUAGES),
)
def test_non_answers_are_never_reasons(answers: dict[str, str], context: dict[str, str], lang: str) -> None:
    engine = ENGINES[0]
    a = engine.assess(engine.encode({**answers, **context}))
    described = engine.describe(a, lang=lang)
    for name, outcome in described["outcomes"].items():
        reasons = outcome["explanation"]["contributions"]
        assert all(r["answer"] not in ("not_asked", "declined", "unknown") for r in reasons)
        assert "migrant_status" not in {r["field"] for r in reasons}
        given_ = {fid for fid, v in {**answers, **context}.items() if v not in ("not_asked", "declined", "unknown")}
        assert {r["field"] for r in reasons} == given_ - {"migrant_status"}
        assert set(a.outcomes[name].contributions) == given_ - {"migrant_status"}


def test_non_answers_are_not_reasons_in_the_api_or_the_log(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    answers = {"documents_withheld": "yes", "debt_bondage": "declined", "isolation": "not_asked", "threats": "no"}
    body = screen(client, keys, answers=answers, not_asked_reasons={"isolation": "deferred"})
    for outcome in body["outcomes"].values():
        fields = {c["field"] for c in outcome["reasons"]}
        assert {"documents_withheld", "threats"} <= fields
        assert not fields & {"debt_bondage", "isolation", "sexual_violence", "migrant_status"}
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (stored,) = conn.execute("SELECT answers FROM screenings").fetchone()
    assert orjson.loads(stored) == {"documents_withheld": "yes", "debt_bondage": "declined", "threats": "no"}
    # The log keeps the inputs; the explanation read back is recomputed from them.
    record = client.get(f"/v1/screenings/{body['screening_id']}", headers=auth(keys, "reviewer")).json()
    for outcome in record["result"]["outcomes"].values():
        assert not set(outcome["contributions"]) & {"debt_bondage", "isolation", "sexual_violence", "migrant_status"}


# ---------------------------------------------------------------------------- non-answers never refer
@pytest.mark.parametrize("base_shift", [0.0, SHIFT])
@pytest.mark.parametrize("status", ["returnee", "prospective"])
@pytest.mark.parametrize("fill", ["not_asked", "dont_know", "declined"])
@pytest.mark.parametrize("assessment", ["low", "medium"])
def test_non_answers_alone_never_refer(
    client: TestClient, keys: dict[str, str], base_shift: float, status: str, fill: str, assessment: str
) -> None:
    body = screen(
        client,
        keys,
        answers=form(status, fill),
        context={"migrant_status": status},
        not_asked_reasons={},
        danger="not_asked",
        screener_assessment=assessment,
    )
    recommendation = body["recommendation"]
    assert recommendation["status"] in ("ask_more", "no_referral")
    assert recommendation["refer"] is False
    assert recommendation["urgent"] is False
    if base_shift:
        # the score is above the threshold (a band-driven referral would refer): still no referral
        assert any(o["above_threshold"] for o in body["outcomes"].values())
        assert body["outcomes"]["labour"]["band"] in ("medium", "high")
        assert recommendation["status"] == "ask_more"


@pytest.mark.parametrize("base_shift", [0.0, SHIFT])
@pytest.mark.parametrize(
    ("status", "indicator"), [("returnee", "documents_withheld"), ("prospective", "recruitment_violence")]
)
def test_a_single_yes_above_the_threshold_refers_when_settled(
    client: TestClient, keys: dict[str, str], base_shift: float, status: str, indicator: str
) -> None:
    body = screen(
        client,
        keys,
        answers=form(status, "dont_know", **{indicator: "yes"}),
        context={"migrant_status": status},
        not_asked_reasons={},
        danger="no",
        screener_assessment="low",
    )
    assert body["interview"]["not_asked"] == 0
    assert body["recommendation"]["settled"] is True
    assert body["outcomes"]["labour"]["above_threshold"] is True
    assert (body["recommendation"]["status"], body["recommendation"]["refer"]) == ("refer", True)
    assert body["recommendation"]["urgent"] is False


def test_the_screeners_high_concern_may_refer_on_non_answers(engine_shifted: ScreeningEngine) -> None:
    case = {"migrant_status": "returnee", **form("returnee", "declined")}
    codes = engine_shifted.encode(case)
    assert engine_shifted.assess(codes, Interview(screener_assessment="medium")).status == "ask_more"
    assert engine_shifted.assess(codes, Interview(screener_assessment="high")).status == "refer"


@pytest.fixture(scope="module")
def engine_shifted() -> ScreeningEngine:
    return ScreeningEngine(with_base_shift(make_model(0), SHIFT))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from([*STATUSES, "unknown"]),
    fills=st.lists(
        st.sampled_from(("dont_know", "declined", "not_asked")),
        min_size=len(Q.indicator_ids),
        max_size=len(Q.indicator_ids),
    ),
    assessment=st.sampled_from((None, "low", "medium")),
    danger=st.sampled_from(("no", "declined", "not_asked")),
    shift=st.sampled_from((0.0, 1.5, SHIFT, 6.0)),
)
def test_no_yes_no_referral_for_any_mix_of_non_answers(
    status: str, fills: list[str], assessment: str | None, danger: str, shift: float
) -> None:
    engine = SHIFTED[shift]
    case = {"migrant_status": status, **dict(zip(Q.indicator_ids, fills, strict=True))}
    a = engine.assess(engine.encode(case), Interview(danger=danger, screener_assessment=assessment))
    assert a.status in ("ask_more", "no_referral")
    assert not a.refer


SHIFTED = {s: ScreeningEngine(with_base_shift(make_model(0, n_members=0), s)) for s in (0.0, 1.5, SHIFT, 6.0)}


# ---------------------------------------------------------------------------- the don't-know cap
def capped_model(seed: int, *, over: float = 1.0) -> ScreeningModel:
    """A model whose don't-know weights have both signs and reach the cap (times ``over``) each way."""
    rng = np.random.default_rng(seed)
    model = make_model(seed, n_members=0)
    outcomes = {}
    for name, o in model.outcomes.items():
        tables = [t.copy() for t in o.contributions]
        rows = [j for j, fid in enumerate(model.fields) if fid in Q.indicator_ids]
        weights = rng.exponential(1.0, size=len(rows)) * rng.choice([-1.0, 1.0], size=len(rows))
        weights[0], weights[1] = abs(weights[0]), -abs(weights[1])
        weights[weights > 0] *= DONT_KNOW_CAP / weights[weights > 0].sum()
        weights[weights < 0] *= DONT_KNOW_CAP / -weights[weights < 0].sum()
        for j, w in zip(rows, weights * over, strict=True):
            tables[j][2] = w  # dont_know
        outcomes[name] = OutcomeModel(
            base_value=o.base_value,
            contributions=tables,
            threshold=o.threshold,
            high_threshold=o.high_threshold,
        )
    return ScreeningModel(
        fields=model.fields, outcomes=outcomes, answer_model=model.answer_model, dont_know_cap=model.dont_know_cap
    )


CAPPED = {seed: ScreeningEngine(capped_model(seed)) for seed in (0, 1, 2)}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(sorted(CAPPED)),
    answers=st.dictionaries(
        st.sampled_from(Q.indicator_ids), st.sampled_from(("yes", "no", "dont_know", "declined", "not_asked"))
    ),
    status=st.sampled_from([*STATUSES, "unknown"]),
)
def test_dont_know_answers_together_stay_within_the_cap(seed: int, answers: dict[str, str], status: str) -> None:
    engine = CAPPED[seed]
    a = engine.assess(engine.encode({**answers, "migrant_status": status}))
    described = engine.describe(a)
    for name, o in a.outcomes.items():
        dont_know = [v for fid, v in o.contributions.items() if answers.get(fid) == "dont_know"]
        assert -DONT_KNOW_CAP - 1e-12 <= sum(dont_know) <= DONT_KNOW_CAP + 1e-12
        listed = [c for c in described["outcomes"][name]["explanation"]["contributions"] if c["answer"] == "dont_know"]
        assert len(listed) == len(dont_know)
        assert -DONT_KNOW_CAP - 1e-12 <= sum(c["contribution"] for c in listed) <= DONT_KNOW_CAP + 1e-12


def test_the_cap_is_reached_and_a_model_beyond_it_is_refused() -> None:
    engine = CAPPED[0]
    for name, o in engine.model.outcomes.items():
        weights = [float(o.contributions[j][2]) for j, fid in enumerate(engine.fields) if fid in Q.indicator_ids]
        raising = {fid for fid, w in zip(Q.indicator_ids, weights, strict=True) if w > 0}
        a = engine.assess(engine.encode({fid: "dont_know" for fid in raising}))
        assert sum(a.outcomes[name].contributions.values()) == pytest.approx(DONT_KNOW_CAP, abs=1e-12)
    with pytest.raises(ValueError, match="cap"):
        capped_model(0, over=1.01)


# ---------------------------------------------------------------------------- danger
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers=st.dictionaries(st.sampled_from(Q.indicator_ids), st.sampled_from(("yes", "no", "dont_know", "declined"))),
    status=st.sampled_from([*STATUSES, "unknown"]),
    assessment=st.sampled_from((None, "low", "medium", "high")),
    shift=st.sampled_from((-6.0, 0.0, SHIFT)),
)
def test_danger_refers_urgently_whatever_the_answers(
    answers: dict[str, str], status: str, assessment: str | None, shift: float
) -> None:
    engine = DANGER_ENGINES[shift]
    a = engine.assess(engine.encode({**answers, "migrant_status": status}), Interview("yes", assessment))
    assert (a.status, a.refer, a.urgent) == ("refer", True, True)
    d = engine.describe(a)["recommendation"]
    assert (d["status"], d["refer"], d["urgent"]) == ("refer", True, True)
    assert engine.flat(a)["refer"] is True


DANGER_ENGINES = {s: ScreeningEngine(with_base_shift(make_model(1, n_members=0), s)) for s in (-6.0, 0.0, SHIFT)}


@pytest.mark.parametrize("status", ["returnee", "prospective"])
@pytest.mark.parametrize("fill", ["no", "not_asked", "declined"])
def test_danger_refers_through_the_api(
    client: TestClient, keys: dict[str, str], db_url: str, status: str, fill: str
) -> None:
    body = screen(
        client,
        keys,
        answers=form(status, fill),
        context={"migrant_status": status},
        not_asked_reasons={},
        danger="yes",
        screener_assessment="low",
    )
    recommendation = body["recommendation"]
    assert (recommendation["status"], recommendation["refer"], recommendation["urgent"]) == ("refer", True, True)
    assert "danger" in recommendation["text"]
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        refer, result = conn.execute("SELECT refer, result FROM screenings").fetchone()
    logged = orjson.loads(result)
    assert bool(refer) is True
    assert (logged["status"], logged["urgent"], logged["danger"]) == ("refer", True, "yes")


# ---------------------------------------------------------------------------- refused before scoring
def without(case: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in case.items() if k != key}


REFUSALS = [
    (without(example(), "consent"), "consent_required", None),
    (example(consent=False), "consent_required", None),
    (example(consent=None), "consent_required", None),
    (example(monitoring={"age_band": "0-8"}), "child_protection", None),
    (example(monitoring={"age_band": "9-17", "gender": "woman"}), "child_protection", None),
    (
        example(context={"migrant_status": "returnee"}, monitoring={"age_band": "9-17"}, consent=False),
        "consent_required",
        None,
    ),
    (example(context={}), "migrant_status_required", None),
    (example(context={"migrant_status": "unknown"}), "migrant_status_required", None),
    (
        example(context={"migrant_status": "prospective"}, answers={"documents_withheld": "no"}),
        "not_applicable",
        None,
    ),
    (
        example(
            context={"migrant_status": "prospective"}, answers={"excessive_hours": "declined"}, not_asked_reasons={}
        ),
        "not_applicable",
        None,
    ),
    (
        example(context={"migrant_status": "prospective"}, answers={"dependent_on_employer": "dont_know"}),
        "not_applicable",
        None,
    ),
]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    REFUSALS,
    ids=[
        "consent-missing",
        "consent-false",
        "consent-null",
        "age-0-8",
        "age-9-17",
        "consent-before-age",
        "no-status",
        "status-unknown",
        "prospective-coercion",
        "prospective-exploitation-declined",
        "prospective-vulnerability",
    ],
)
def test_refused_before_anything_is_scored_or_logged(
    client: TestClient, keys: dict[str, str], db_url: str, body: dict[str, Any], code: str, field: str | None
) -> None:
    before = all_rows(db_url)
    response = client.post(URL, json=body, headers=auth(keys, "screener"))
    assert response.status_code == 422, response.text
    assert "outcomes" not in response.text
    assert all_rows(db_url) == before
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["field"] == field


def test_the_refusals_say_what_to_do(client: TestClient, keys: dict[str, str]) -> None:
    consent = client.post(URL, json=example(consent=False), headers=auth(keys, "screener")).json()["error"]
    assert "consent: true" in consent["message"]
    child_case = example(monitoring={"age_band": "9-17"})
    child = client.post(URL, json=child_case, headers=auth(keys, "screener")).json()["error"]
    assert "child-protection" in child["message"]
    body = example(context={"migrant_status": "prospective"}, answers={"isolation": "yes", "threats": "no"})
    wrong = client.post(URL, json=body, headers=auth(keys, "screener")).json()["error"]
    assert "isolation" in wrong["message"]
    assert "threats" in wrong["message"]
    assert "prospective" in wrong["message"]


def test_prospective_migrants_may_send_not_asked_for_questions_that_do_not_apply(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    not_applicable = [f.id for f in Q.indicators if not f.applies("prospective")]
    answers = {**{fid: "not_asked" for fid in not_applicable}, "deceived_wages": "yes"}
    reasons = {fid: "not_applicable" for fid in not_applicable[:3]}
    body = screen(
        client,
        keys,
        answers=answers,
        not_asked_reasons=reasons,
        context={"migrant_status": "prospective"},
    )
    assert body["interview"]["not_applicable"] == len(not_applicable)
    assert body["interview"]["total"] == len(Q.indicators) - len(not_applicable)
    assert not {n["indicator"] for n in body["next_questions"]} & set(not_applicable)
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (result,) = conn.execute("SELECT result FROM screenings").fetchone()
    # every question that does not apply is logged as not applicable, given or not
    assert orjson.loads(result)["not_asked_reasons"] == {fid: "not_applicable" for fid in not_applicable}


def test_not_asked_reasons_are_kept_in_the_logged_row(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    """Exactly the reasons given: one of each, and none for the questions answered or left without one."""
    case = example()
    status = case["context"]["migrant_status"]
    unasked = [f.id for f in Q.applicable(status) if f.id not in case["answers"]]
    reasons = dict(zip(unasked, NOT_ASKED_REASONS, strict=False))
    body = screen(client, keys, not_asked_reasons=reasons)
    # Questions that do not apply to this person are recorded as such, without being sent.
    reasons |= {f.id: "not_applicable" for f in Q.indicators if not f.applies(status)}
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (result,) = conn.execute(
            "SELECT result FROM screenings WHERE screening_id = ?", (body["screening_id"],)
        ).fetchone()
    logged = orjson.loads(result)
    assert logged["not_asked_reasons"] == reasons
    assert (logged["consent"], logged["danger"]) == (True, "no")
    record = client.get(f"{URL}/{body['screening_id']}", headers=auth(keys, "reviewer")).json()
    assert record["result"]["not_asked_reasons"] == reasons


def test_a_reason_for_an_answered_question_is_refused(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    body = example(answers={"isolation": "no"}, not_asked_reasons={"isolation": "deferred"})
    response = client.post(URL, json=body, headers=auth(keys, "screener"))
    assert response.status_code == 422
    assert "isolation" in response.json()["error"]["message"]
    assert count_rows(db_url, "screenings") == 0


# ---------------------------------------------------------------------------- counts
def test_the_counts_line(client: TestClient, keys: dict[str, str]) -> None:
    body = screen(
        client,
        keys,
        answers={
            "documents_withheld": "yes",
            "excessive_hours": "yes",
            "debt_bondage": "declined",
            "threats": "dont_know",
        },
        context={"migrant_status": "returnee"},
        not_asked_reasons={},
    )
    interview = body["interview"]
    n = len(Q.applicable("returnee"))
    assert {k: v for k, v in interview.items() if k != "text"} == {
        "total": n,
        "answered": 3,
        "dont_know": 1,
        "declined": 1,
        "not_asked": n - 4,
        "not_applicable": len(Q.indicators) - n,
    }
    assert interview["text"] == f"Answered 3 of {n}; declined 1; not asked {n - 4} (no effect on the score)"


def test_the_counts_of_a_prospective_migrant(client: TestClient, keys: dict[str, str]) -> None:
    body = screen(
        client,
        keys,
        answers={"deceived_wages": "no", "economic_pressure": "dont_know", "recruitment_debt": "declined"},
        context={"migrant_status": "prospective"},
        not_asked_reasons={},
        lang="ru",
    )
    applicable = len(Q.applicable("prospective"))
    interview = body["interview"]
    assert {k: v for k, v in interview.items() if k != "text"} == {
        "total": applicable,
        "answered": 2,
        "dont_know": 1,
        "declined": 1,
        "not_asked": applicable - 3,
        "not_applicable": len(Q.indicators) - applicable,
    }
    assert str(applicable - 3) in interview["text"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_family_member_is_asked_next_about_their_relative(
    client: TestClient, keys: dict[str, str], lang: str
) -> None:
    """The next questions of a family member come from the family module, in its wording."""
    body = screen(
        client,
        keys,
        answers={"deceived_job_nature": "yes"},
        context={"migrant_status": "family_member"},
        not_asked_reasons={},
        lang=lang,
    )
    texts = Q.texts(lang)
    assert body["recommendation"]["status"] == "ask_more"
    asked_next = body["next_questions"]
    assert asked_next
    for item in asked_next:
        assert item["indicator"] in Q.family_module
        assert item["question"] == texts.family_question(item["indicator"])
    assert body["interview"]["total"] == len(Q.family_module)


def test_a_case_of_another_questionnaire_version_is_refused(
    client: TestClient, keys: dict[str, str], db_url: str
) -> None:
    """Answers collected with another version may mean something else: refused, nothing logged."""
    before = count_rows(db_url, "screenings")
    response = client.post(URL, json=example(questionnaire_version="2025.01"), headers=auth(keys, "screener"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "questionnaire_version"
    assert Q.version in error["message"]
    assert count_rows(db_url, "screenings") == before
    # the current version, or none given, is scored
    assert screen(client, keys, questionnaire_version=Q.version)["recommendation"]["status"]
    assert screen(client, keys, questionnaire_version=None)["recommendation"]["status"]


def test_a_model_of_another_questionnaire_version_does_not_load(tmp_path: Any) -> None:
    model = make_model()
    model.metadata["questionnaire_version"] = "2025.01"
    path = tmp_path / "model.json"
    model.save(path)
    with pytest.raises(ValueError, match=r"questionnaire version '2025\.01'"):
        ScreeningModel.load(path)
    model.metadata["questionnaire_version"] = Q.version
    model.save(path)
    assert ScreeningModel.load(path).fields == model.fields
