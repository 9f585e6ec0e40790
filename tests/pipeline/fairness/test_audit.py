"""Group metrics, intervals and verdicts of the model audit."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from models.questionnaire import load_questionnaire
from pipeline.config import BAD_TOLERANCE, FairnessConfig, load_config
from pipeline.fairness.audit import (
    COMPLETENESS,
    ERROR_METRICS,
    JOIN,
    TOO_FEW,
    AuditSettings,
    audit_model,
    default_attributes,
    interview_completeness,
    metric_frame,
    metric_functions,
)
from pipeline.metrics import resample_counts, weighted_metrics
from tests.support.fairness import fair_frame

SETTINGS = AuditSettings.from_config(load_config(), n_boot=0)


def test_weighted_metrics_with_unit_counts_equal_pipeline_metrics() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.3).astype(int)
    p = np.round(rng.random(400), 2)  # ties on purpose
    got = weighted_metrics(y, p, threshold=0.4, weights=np.ones(400))
    for name, fn in metric_functions(0.4).items():
        np.testing.assert_allclose(got[name][0], fn(y, p), rtol=1e-12, err_msg=name)


def test_audit_tables_equal_fairlearn_metric_frame(model) -> None:
    frame = fair_frame(rows=3000, seed=4)
    audit = audit_model(model=model, frame=frame, settings=SETTINGS, attributes=["region"])
    p = model.predict_proba(model.encoder.transform(frame).to_numpy())["labour"]
    theirs = metric_frame(
        y=frame["is_labour"].to_numpy(),
        p=p,
        groups=frame["region"],
        threshold=model.outcomes["labour"].referral["support"],
    ).by_group
    table = audit.observed.table("region", "labour")
    assert {g.group for g in table.groups} == set(theirs.index)
    for g in table.groups:
        ours = {**g.population, **g.errors, **g.other}
        for metric, estimate in ours.items():
            np.testing.assert_allclose(estimate.value, theirs.loc[g.group, metric], rtol=1e-12, err_msg=metric)


def test_group_metrics_match_hand_computed_values() -> None:
    # Group a: y = 1 1 0 0, p = .9 .1 .8 .2 -> TP 1, FN 1, FP 1, TN 1 at threshold .5
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.1, 0.8, 0.2])
    f = metric_functions(0.5)
    assert f["fnr"](y, p) == 0.5
    assert f["fpr"](y, p) == 0.5
    assert f["ppv"](y, p) == 0.5
    assert f["selection_rate"](y, p) == 0.5
    assert f["prevalence"](y, p) == 0.5
    assert f["auroc"](y, p) == 0.5  # pairs (.9>.8, .9>.2, .1<.8, .1<.2): 2 of 4
    # ECE of y 0 1, p .1 .9: |0-.1| + |1-.9| over 2 rows
    assert f["ece"](np.array([0, 1]), np.array([0.1, 0.9])) == pytest.approx(0.1)


def test_intervals_shrink_with_group_size() -> None:
    rng = np.random.default_rng(5)
    widths = []
    for n in (200, 2000, 20000):
        y = (rng.random(n) < 0.3).astype(int)
        p = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1)
        boot = weighted_metrics(y, p, threshold=0.5, weights=resample_counts(n, n_boot=200, rng=rng))
        widths.append(np.subtract(*np.quantile(boot["fnr"], [0.975, 0.025])))
    assert widths[0] > 2 * widths[1] > 4 * widths[2]


def test_every_attribute_the_reviewer_asked_for_is_audited() -> None:
    attributes = default_attributes()
    for audit_id in load_questionnaire().monitoring_ids:  # interview language among them, whatever else is added
        assert audit_id in attributes
    for wanted in ("migrant_status", "destination", COMPLETENESS, f"gender{JOIN}sector", f"gender{JOIN}destination"):
        assert wanted in attributes


def test_minimum_size_counts_victims_for_miss_rates_and_non_victims_for_false_alarms(model) -> None:
    frame = fair_frame(rows=4000, seed=1)
    # 600 people of a third gender, of whom only 10 are victims: enough non-victims, too few victims.
    third = frame.index[:600]
    frame.loc[third, "gender"] = "trans_nonconforming"
    frame.loc[third, "is_labour"] = 0
    frame.loc[third[:10], "is_labour"] = 1
    audit = audit_model(
        model=model, frame=frame, settings=dataclasses.replace(SETTINGS, n_boot=20), attributes=["gender"]
    )
    verdicts = {
        c.metric: c.verdict
        for c in audit.observed.comparisons
        if c.group == "trans_nonconforming" and c.outcome == "labour"
    }
    assert verdicts["fnr"] == TOO_FEW
    assert verdicts["fpr"] != TOO_FEW
    # Prevalence and the share referred describe the population: no verdict is ever given on them.
    assert {c.metric for c in audit.observed.comparisons} == set(ERROR_METRICS)
    table = audit.observed.table("gender", "labour")
    assert {g.group for g in table.groups} == {"man", "woman", "trans_nonconforming"}
    assert table.groups[0].group == table.reference
    assert audit.truth is None
    assert audit.identification is None


def test_every_comparison_says_what_it_could_have_detected(model) -> None:
    audit = audit_model(
        model=model, frame=fair_frame(rows=6000, seed=2), settings=SETTINGS, attributes=["gender", "region"]
    )
    for c in audit.observed.comparisons:
        assert c.detectable_above > 1.25, c
        assert c.detectable_below < 0.8, c
    smaller = {c.group: c.detectable_above for c in audit.observed.comparisons if c.metric == "fnr"}
    sizes = {c.group: c.cases for c in audit.observed.comparisons if c.metric == "fnr"}
    few, many = min(sizes, key=sizes.__getitem__), max(sizes, key=sizes.__getitem__)
    assert smaller[few] > smaller[many]


def test_completeness_is_the_answered_share_of_the_questions_that_apply() -> None:
    q = load_questionnaire()
    frame = fair_frame(rows=4, seed=0).head(4).copy()
    frame["migrant_status"] = "returnee"
    applicable = [f.id for f in q.indicators if f.applies("returnee")]
    for i, share in enumerate((1.0, 0.85, 0.6, 0.1)):
        k = int(np.ceil(share * len(applicable)))
        frame.loc[frame.index[i], applicable] = "declined"
        frame.loc[frame.index[i], applicable[:k]] = "dont_know"  # don't know is an answer; declined is not
    assert list(interview_completeness(frame)) == ["all", "80-99%", "50-79%", "under 50%"]


def test_bad_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape(BAD_TOLERANCE.split("{")[0])):
        FairnessConfig(tolerance=(1.2, 0.8))


def test_the_audit_compares_groups_as_the_training_config_says() -> None:
    config = load_config()
    settings = AuditSettings.from_config(config)
    assert (settings.tolerance, settings.min_cases, settings.alpha, settings.power) == (
        config.fairness.tolerance,
        config.fairness.min_cases,
        config.fairness.alpha,
        config.fairness.power,
    )
    assert (settings.n_boot, settings.seed) == (config.evaluation.bootstrap, config.evaluation.seed)
    assert AuditSettings.from_config(config, n_boot=0).n_boot == 0
