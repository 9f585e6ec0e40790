"""The evaluation that leaves its stage: typed, and logged and read back through one JSON form."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.evaluate import Evaluation, OutcomeEvaluation, evaluate_outcome
from pipeline.train import FittedScreening


@pytest.fixture(scope="module")
def evaluation(trained: FittedScreening) -> Evaluation:
    test = trained.splits.test
    codes = trained.encoder.transform(test)
    return Evaluation(
        {
            o: evaluate_outcome(
                fit=trained.fits[o],
                codes=codes,
                test=test,
                n_boot=20,
                seed=0,
                p_given_inputs=test[f"p_{o}"].to_numpy(),  # the full posterior stands in for the bound's input
                production="sparse_logistic",
            )
            for o in trained.outcomes
        }
    )


def test_the_logged_json_reads_back_to_the_same_evaluation(evaluation: Evaluation) -> None:
    logged = json.dumps(evaluation.to_json(), default=float)
    again = Evaluation.from_json(json.loads(logged))
    assert json.dumps(again.to_json(), default=float) == logged
    assert list(again.outcomes) == ["labour", "sexual"]


def test_the_logged_form_keeps_its_keys(evaluation: Evaluation) -> None:
    raw = evaluation.to_json()["labour"]
    assert list(raw) == ["n", "prevalence_observed", "models", "prevalence_true", "bayes_optimal", "bayes_given_inputs"]
    model = raw["models"]["sparse_logistic"]
    assert list(model) == [
        "threshold",
        "high_threshold",
        "observed",
        "truth",
        "by_questions_asked",
        "gap_to_bayes",
        "gap_to_bayes_given_inputs",
    ]
    assert set(model["observed"]["auroc"]) == {"value", "lower", "upper"}
    # Baselines are also reported where they refer no more non-victims than the model.
    assert set(raw["models"]["delphi_rule"]["at_model_specificity"]) == {
        "threshold",
        "sensitivity",
        "specificity",
        "ppv",
    }
    assert "at_model_specificity" not in model


def test_typed_fields_agree_with_each_other(evaluation: Evaluation, trained: FittedScreening) -> None:
    labour: OutcomeEvaluation = evaluation.outcomes["labour"]
    assert labour.n == len(trained.splits.test)
    model = labour.models["sparse_logistic"]
    auroc = model.observed["auroc"]
    assert auroc.lower <= auroc.value <= auroc.upper
    assert labour.bayes_optimal is not None
    assert model.gap_to_bayes is not None
    assert model.gap_to_bayes.auroc_difference == pytest.approx(labour.bayes_optimal.observed["auroc"] - auroc.value)
    assert sum(b.n for b in model.by_questions_asked.values()) == labour.n
    point = labour.models["count_screener"].at_model_specificity
    assert point is not None
    assert point.metrics["specificity"].value >= model.observed["specificity"].value - 1e-12
    assert np.isfinite(point.threshold)
