"""The served results equal ``describe_case`` and ``flat_predictions``, and explanations add up."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from factories import make_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.additive import logit
from models.questionnaire import LANGUAGES, load_questionnaire
from models.screening import describe_case, flat_predictions
from serving.scoring import CompiledModel

Q = load_questionnaire()


def compact_result(described: dict[str, Any]) -> dict[str, Any]:
    """The reference for :meth:`CompiledModel.compact`: the numbers of a described case."""
    outcomes = {}
    for name, o in described["outcomes"].items():
        e = o["explanation"]
        outcomes[name] = {
            "probability": o["probability"],
            "interval": o["interval"],
            "band": o["band"],
            "above_threshold": o["above_threshold"],
            "threshold": o["threshold"],
            "base_value": e["base_value"],
            "log_odds": e["log_odds"],
            "contributions": {c["field"]: c["contribution"] for c in e["contributions"]},
        }
    return {
        "outcomes": outcomes,
        "refer": described["recommendation"]["refer"],
        "unanswered": [u["indicator"] for u in described["unanswered"]],
    }


def value_strategy(field: Any) -> st.SearchStrategy[Any]:
    if field.numeric:
        return st.one_of(st.integers(field.bins[0][1], field.bins[-1][2]), st.just("unknown"))
    return st.sampled_from(field.levels)


cases = st.fixed_dictionaries({}, optional={f.id: value_strategy(f) for f in Q.all_fields})

MODELS = {n: make_model(seed, n_members=n) for seed, n in ((0, 20), (1, 0), (2, 7))}
COMPILED = {n: CompiledModel(m) for n, m in MODELS.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases, members=st.sampled_from(sorted(MODELS)), lang=st.sampled_from(LANGUAGES))
def test_compiled_model_equals_describe_case(case: dict[str, Any], members: int, lang: str) -> None:
    model, compiled = MODELS[members], COMPILED[members]
    codes = model.encode(case)
    np.testing.assert_array_equal(compiled.encode(case), codes)
    scores = compiled.score(codes)
    described = compiled.describe(scores, 0, codes, lang=lang)
    assert described == describe_case(model, codes, lang=lang)
    rendered, numbers = compiled.render(scores, 0, codes, lang=lang)
    assert orjson.loads(rendered) == described
    assert compiled.compact(scores, 0, codes) == numbers == compact_result(described)


@settings(max_examples=15, deadline=None)
@given(batch=st.lists(cases, min_size=1, max_size=8))
def test_batch_scores_equal_single_scores(batch: list[dict[str, Any]]) -> None:
    model, compiled = MODELS[20], COMPILED[20]
    codes = compiled.encode_many(batch)
    scores = compiled.score(codes)
    reference = model.score_codes(codes)
    for name, s in reference.items():
        np.testing.assert_array_equal(scores.probability[name], s.probability)
        np.testing.assert_array_equal(scores.lower[name], s.lower)
        np.testing.assert_array_equal(scores.upper[name], s.upper)
        np.testing.assert_array_equal(scores.band[name], s.band)
    for i in range(len(batch)):
        assert compiled.describe(scores, i, codes[i], lang="en") == describe_case(model, codes[i])
    assert len(flat_predictions(model, codes)) == len(batch)


@settings(max_examples=60, deadline=None)
@given(case=cases)
def test_explanation_adds_up_to_the_log_odds_of_the_probability(case: dict[str, Any]) -> None:
    compiled = COMPILED[20]
    codes = compiled.encode(case)
    described = compiled.describe(compiled.score(codes), 0, codes, lang="en")
    for outcome in described["outcomes"].values():
        e = outcome["explanation"]
        total = e["base_value"] + sum(c["contribution"] for c in e["contributions"])
        np.testing.assert_allclose(total, e["log_odds"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(total, logit(outcome["probability"]), rtol=0, atol=1e-6)


def test_encode_refuses_values_outside_the_questionnaire() -> None:
    from models.questionnaire import QuestionnaireError

    with pytest.raises(QuestionnaireError, match="documents_withheld"):
        COMPILED[20].encode({"documents_withheld": "maybe"})
    with pytest.raises(QuestionnaireError, match="months_abroad"):
        COMPILED[20].encode({"months_abroad": 601})
