"""Estimators: exact additive explanations, behaviour, the scikit-learn contract."""

from __future__ import annotations

import numpy as np
import pytest

from models.additive import logit
from models.baselines import CountScreener, DelphiRuleScreener
from models.boosting import AdditiveBoostingClassifier
from models.linear import SparseLogisticClassifier

ESTIMATORS = ("sparse_logistic", "additive_boosting", "count_screener", "delphi_rule")


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("outcome", ["labour", "sexual"])
def test_explanations_add_up_to_predict_proba(trained, name, outcome):  # type: ignore[no-untyped-def]
    est = trained.fits[outcome].candidates[name].estimator
    codes = trained.encoder.transform(trained.splits.test)
    explanation = est.explain(codes)
    expected = logit(est.predict_proba(codes)[:, 1])
    np.testing.assert_allclose(explanation.log_odds, expected, atol=1e-6, rtol=0)
    assert explanation.values.shape == codes.shape


def test_sparse_logistic_agrees_with_shap_linear_explainer(trained):  # type: ignore[no-untyped-def]
    """Our closed-form contributions equal SHAP's interventional values, one-hot parts summed."""
    shap = pytest.importorskip("shap")
    est = trained.fits["labour"].candidates["sparse_logistic"].estimator
    encoder = trained.encoder
    # the background is what the model was fitted on: declined answers read as not asked
    train_codes = encoder.fold_declined(encoder.transform(trained.train_rows))
    test_codes = encoder.transform(trained.splits.test).iloc[:200]
    design_train = est.design_matrix(train_codes).toarray()
    design_test = est.design_matrix(test_codes).toarray()
    # shap's masker samples 100 background rows unless told otherwise; use all of them.
    masker = shap.maskers.Independent(design_train, max_samples=len(design_train))
    explainer = shap.LinearExplainer((est.coef_, est.intercept_), masker)
    onehot_values = explainer.shap_values(design_test)
    # each field's reference level (not asked / not recorded) has no column: its weight is 0
    sizes = [len(c) - 1 for c in encoder.categories]
    summed = np.add.reduceat(onehot_values, np.r_[0, np.cumsum(sizes)[:-1]], axis=1)
    ours = est.explain(test_codes)
    np.testing.assert_allclose(ours.values, summed, atol=1e-9)
    np.testing.assert_allclose(ours.base_values[0], explainer.expected_value, atol=1e-9)


def test_strong_indicator_yes_raises_labour_score(trained):  # type: ignore[no-untyped-def]
    model = trained.model
    base = {"documents_withheld": "no", "destination": "RUS", "sector": "construction"}
    low = model.score_codes(model.encode(base))["labour"].log_odds[0]
    high = model.score_codes(model.encode({**base, "documents_withheld": "yes"}))["labour"].log_odds[0]
    assert high - low > 0.5


def test_protected_attributes_change_nothing(trained):  # type: ignore[no-untyped-def]
    model = trained.model
    case = {"documents_withheld": "yes", "destination": "RUS"}
    reference = model.score_codes(model.encode(case))
    assert not {"gender", "age_band", "citizenship", "region"} & set(model.fields)
    for gender in ("man", "woman", "trans_nonconforming"):
        other = model.score_codes(model.encode({**case, "gender": gender, "age_band": "18-20"}))
        for outcome in model.outcome_names:
            assert other[outcome].probability[0] == reference[outcome].probability[0]


INTERVIEW_SETTING = ("interview_language", "interpreter_present", "others_present", "site_type")


def test_interview_setting_is_audited_not_a_feature(trained):  # type: ignore[no-untyped-def]
    """How the interview was held goes to the audit and the log, never into the score."""
    from models.questionnaire import load_questionnaire

    assert set(INTERVIEW_SETTING) <= set(load_questionnaire().audit_ids)
    model = trained.model
    assert not set(INTERVIEW_SETTING) & set(model.fields)
    case = {"documents_withheld": "yes", "destination": "RUS"}
    reference = model.score_codes(model.encode(case))
    setting = {
        "interview_language": "ru",
        "interpreter_present": "yes",
        "others_present": "recruiter_or_employer",
        "site_type": "border_point",
    }
    other = model.score_codes(model.encode({**case, **setting}))
    for outcome in model.outcome_names:
        assert other[outcome].probability[0] == reference[outcome].probability[0]


def test_null_indicator_gets_near_zero_weight(trained):  # type: ignore[no-untyped-def]
    """The generator's no-effect indicator ranks below every strong indicator."""
    model = trained.model
    from models.questionnaire import load_questionnaire

    q = load_questionnaire()
    index = {f: i for i, f in enumerate(model.fields)}
    for outcome in model.outcome_names:
        tables = model.outcomes[outcome].contributions
        spread = {f: float(np.ptp(tables[i])) for f, i in index.items()}
        assert spread["deceived_education"] < 0.25
        strong = [spread[f.id] for f in q.indicators if f.delphi_strength(outcome) == "strong"]
        # on 20,000 rows the L1 fit may keep few strong indicators for the rare outcome, but
        # those it keeps, and the strong ones on average, weigh far more than the null one
        assert np.mean(strong) > 4 * spread["deceived_education"]
        assert max(strong) > 0.5


def test_sparse_logistic_fit_is_reproducible(small_frame):  # type: ignore[no-untyped-def]
    from models.encoding import FieldEncoder
    from pipeline.config import load_config

    encoder = FieldEncoder(load_config().feature_fields)
    X = encoder.transform(small_frame).to_numpy()
    y = small_frame["is_labour"].to_numpy()
    first, second = (SparseLogisticClassifier(categories=encoder.categories).fit(X, y) for _ in range(2))
    np.testing.assert_array_equal(first.support_, second.support_)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_single_class_is_a_clear_error():
    X = np.zeros((20, 3), dtype=int)
    with pytest.raises(ValueError, match="exactly two classes"):
        SparseLogisticClassifier().fit(X, np.zeros(20))


@pytest.mark.parametrize("estimator", [SparseLogisticClassifier(C=0.5), AdditiveBoostingClassifier(max_iter=5)])
def test_sklearn_contract_basics(estimator):  # type: ignore[no-untyped-def]
    """Parameters round-trip through clone, and an unfitted model refuses to predict."""
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    assert clone(estimator).get_params() == estimator.get_params()
    with pytest.raises(NotFittedError):
        estimator.predict_proba(np.zeros((2, 3), dtype=int))
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(200, 3))
    y = (X[:, 0] == 1) | (rng.random(200) < 0.1)
    assert clone(estimator).fit(X, y).predict_proba(X).shape == (200, 2)


def test_baselines_need_indicator_columns():
    X = np.zeros((10, 2), dtype=int)
    y = np.r_[np.zeros(5), np.ones(5)]
    with pytest.raises(ValueError, match="at least one indicator"):
        CountScreener().fit(X, y)
    with pytest.raises(ValueError, match="at least one indicator"):
        DelphiRuleScreener().fit(X, y)


def test_delphi_rule_combination():
    """2 strong, or 1 strong + 1 medium, makes a dimension positive; three stages make a likely victim."""
    rule = DelphiRuleScreener(
        indicator_columns=[0, 1, 2, 3, 4, 5],
        dimensions=["r", "r", "e", "e", "c", "c"],
        strengths=["strong", "medium", "strong", "strong", "strong", "medium"],
        stages={"r": "recruitment", "e": "exploitation", "c": "coercion"},
        yes_code=0,
    )
    yes, no = 0, 1
    cases = np.array(
        [
            [yes, yes, yes, yes, yes, yes],  # all three stages positive
            [yes, no, yes, yes, yes, yes],  # recruitment has one strong only
            [no, no, no, no, no, no],
        ]
    )
    assert rule.score(cases).tolist() == [3, 2, 0]
    assert rule.likely_victim(cases).tolist() == [True, False, False]
