"""The synthetic population: reproducible, faithful to its config, exactly calibrated,
for full and partial interviews alike.

Statistical tests run for every seed of ``global_random_seed``; their tolerances are 4.5-5 standard
errors (binomial, with rows of one group counted as the cluster they are), so any seed
passes and a real departure of a few percent fails.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import chi2_contingency

from models.questionnaire import ANSWERS, load_questionnaire
from pipeline.data import synthetic
from pipeline.data.schema import validate_frame, write_frame
from pipeline.data.synthetic import (
    FORMS,
    TRUTHS,
    PopulationConfigError,
    PopulationModel,
    default_config_path,
    generate,
    load_population,
    mask_interviews,
    true_probabilities,
)

Factory = Callable[..., pd.DataFrame]
Z_TOLERANCE = 5.0
CALIBRATION_Z = 4.5
NULL_INDICATOR = "deceived_education"
INDICATORS = list(load_questionnaire().indicator_ids)
RETURNEE_QUESTIONS = [f.id for f in load_questionnaire().applicable("returnee")]
"""What a returnee is asked in a full interview (everything but the family module's own questions)."""
OUTCOMES = ("labour", "sexual")


def _cluster_se(hits: pd.Series, groups: pd.Series, p: float) -> float:
    """Standard error of a row share whose rows come in groups sharing their value."""
    sizes = groups.value_counts().to_numpy(dtype=float)
    return math.sqrt(p * (1 - p) * float((sizes**2).sum())) / len(hits)


def _assert_share(hits: pd.Series, groups: pd.Series, expected: float, what: str) -> None:
    observed = float(hits.mean())
    se = _cluster_se(hits, groups, expected)
    assert abs(observed - expected) <= Z_TOLERANCE * se + 1e-12, (
        f"{what}: {observed:.5f} vs {expected:.5f} (se {se:.5f})"
    )


# --------------------------------------------------------------------------- basics


def test_generated_frame_is_a_valid_tarozu_frame(population: Factory) -> None:
    frame = population(rows=2_000, seed=1)
    assert len(frame) == 2_000
    out = validate_frame(frame)
    assert list(out.columns) == list(frame.columns)
    assert {"true_labour", "true_sexual", "p_labour", "p_sexual", "group_id", "year"} <= set(frame.columns)
    assert frame["group_id"].iloc[0] == 1
    assert frame["group_id"].is_monotonic_increasing


def test_groups_are_repeat_screenings_of_one_case(population: Factory) -> None:
    frame = population(rows=20_000, seed=1)
    sizes = frame["group_id"].value_counts()
    assert sizes.max() <= 3
    assert (sizes > 1).mean() > 0.05
    shared = ["migrant_status", "true_labour", "true_sexual", "is_labour", "is_sexual", "year"]
    assert (frame.groupby("group_id")[shared].nunique() == 1).all().all()


def test_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rows must be a whole number of at least 1"):
        generate(rows=0, seed=1)
    assert len(generate(rows=1, seed=1)) == 1


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = write_frame(generate(rows=3_000, seed=11), tmp_path / "a.csv").read_bytes()
    again = write_frame(generate(rows=3_000, seed=11), tmp_path / "b.csv").read_bytes()
    other = write_frame(generate(rows=3_000, seed=12), tmp_path / "c.csv").read_bytes()
    assert first == again
    assert first != other


def test_unknown_scenario_lists_the_allowed_ones() -> None:
    with pytest.raises(
        PopulationConfigError, match=r"unknown scenario 'bias-age': allowed scenarios are \['default', "
    ):
        generate(rows=10, seed=1, scenario="bias-age")


# --------------------------------------------------------------------------- marginals


def test_prevalence_and_mixes_match_the_config(population: Factory, global_random_seed: int) -> None:
    frame = population(seed=global_random_seed)
    model = load_population()
    groups = frame["group_id"]
    joint = model.status_p[:, None, None] * model.gender_p[:, :, None] * model.truth_p  # (S, G, T)
    for column, truths in (("true_labour", (1, 3)), ("true_sexual", (2, 3))):
        expected = float(joint[:, :, list(truths)].sum())
        assert 0.005 < expected < 0.10  # rare: single-digit percent
        _assert_share(frame[column] == 1, groups, expected, column)
    for s, status in enumerate(model.statuses):
        _assert_share(frame["migrant_status"] == status, groups, float(model.status_p[s]), status)
        rows = frame[frame["migrant_status"] == status]
        unknown = model.unknown_rate["gender"]
        for g, gender in enumerate(model.genders):
            expected = (1 - unknown) * float(model.gender_p[s, g])
            _assert_share(rows["gender"] == gender, rows["group_id"], expected, f"{status}/{gender}")
        _assert_share(rows["gender"] == "unknown", rows["group_id"], unknown, f"{status}/unknown")
    # The Tajik context: mostly men among returnees, mostly women among families left behind.
    assert model.gender_p[model.statuses.index("returnee"), model.genders.index("man")] > 0.7
    assert model.gender_p[model.statuses.index("family_member"), model.genders.index("woman")] > 0.7


@pytest.mark.parametrize("scenario", ["default", "shift-destination"])
def test_destination_mix_matches_the_scenario(population: Factory, scenario: str) -> None:
    frame = population(rows=100_000, seed=4, scenario=scenario)
    model = load_population(scenario=scenario)
    k = model.context_ids.index("destination")
    recorded = 1 - model.unknown_rate["destination"]
    s, g = model.statuses.index("returnee"), model.genders.index("man")
    rows = frame[(frame["migrant_status"] == "returnee") & (frame["gender"] == "man")]
    for level in ("RUS", "KAZ", "TUR"):
        x = model.context_levels[k].index(level)
        expected = recorded * float((model.truth_p[s, g] * model.context_p[k][s, g, :, x]).sum())
        _assert_share(rows["destination"] == level, rows["group_id"], expected, f"{scenario}/{level}")


def test_destination_shift_moves_away_from_russia(population: Factory) -> None:
    default = population(rows=100_000, seed=4)
    shifted = population(rows=100_000, seed=4, scenario="shift-destination")
    assert (shifted["destination"] == "RUS").mean() < (default["destination"] == "RUS").mean() - 0.1


def test_prospective_migrants_are_never_asked_questions_that_do_not_apply(population: Factory) -> None:
    q = load_questionnaire()
    frame = population(seed=3)
    for status in ("returnee", "prospective", "family_member"):
        rows = frame[frame["migrant_status"] == status]
        for f in q.indicators:
            asked = rows[f.id] != "not_asked"
            if f.applies(status):
                assert asked.mean() > 0.4, (status, f.id)
            else:
                assert not asked.any(), (status, f.id)
    not_applicable = [f.id for f in q.indicators if not f.applies("prospective")]
    assert len(not_applicable) >= 20  # the exploitation and destination questions
    # Asked questions are answered as before: dont_know is the person's answer, not a blank.
    prospective = frame[frame["migrant_status"] == "prospective"]
    asked = prospective["deceived_job_nature"][prospective["deceived_job_nature"] != "not_asked"]
    assert 0.05 < (asked == "dont_know").mean() < 0.25


def test_more_missing_scenario_has_more_missing_answers(population: Factory) -> None:
    missing, not_asked = {}, {}
    for scenario in ("default", "more-missing"):
        answers = population(rows=20_000, seed=4, scenario=scenario)[INDICATORS]
        asked = answers != "not_asked"
        missing[scenario] = float(answers.isin(["dont_know", "declined"]).to_numpy().sum() / asked.to_numpy().sum())
        not_asked[scenario] = float((~asked).to_numpy().mean())
    assert missing["more-missing"] > 1.3 * missing["default"]  # among the asked questions
    assert not_asked["more-missing"] > not_asked["default"] + 0.03  # and fewer questions asked


def test_partial_interviews_scenario_asks_fewer_questions(population: Factory) -> None:
    counts = {}
    for scenario in ("default", "partial-interviews"):
        answers = population(rows=20_000, seed=4, scenario=scenario)[INDICATORS]
        counts[scenario] = float((answers != "not_asked").sum(axis=1).mean())
    assert counts["partial-interviews"] < counts["default"] - 3


def test_victims_decline_more(population: Factory) -> None:
    frame = population(seed=3)
    answers = frame[INDICATORS]
    declined = (answers == "declined").sum(axis=1) / (answers != "not_asked").sum(axis=1).clip(lower=1)
    victim = (frame["true_labour"] == 1) | (frame["true_sexual"] == 1)
    assert declined[victim].mean() > 1.5 * declined[~victim].mean()


# --------------------------------------------------------------------------- interviews


def _expected_asked_rate(model: PopulationModel, status: str) -> np.ndarray:
    """P(indicator asked | status) from the config's interview forms, (I,)."""
    s = model.statuses.index(status)
    applies = model.applicable[s]
    low, high = model.interrupted_range
    rank = np.cumsum(applies) - 1  # position among the applicable questions, in declared order
    stops = np.arange(low, high + 1)
    reached = (stops[None, :] > rank[:, None]).mean(axis=1)  # P(k > rank), k uniform
    forms = dict(zip(FORMS, model.form_p[s], strict=True))
    rate = (
        forms["full"]
        + forms["short_form"] * model.short_form
        + forms["interrupted"] * reached
        + forms["random_skips"] * (1 - model.skip_rate)
    )
    return np.where(applies, rate, 0.0)


def test_which_questions_are_asked_does_not_depend_on_the_truth(population: Factory, global_random_seed: int) -> None:
    """Per status and question: victims and non-victims are asked at the rate the forms give."""
    frame = population(seed=global_random_seed)
    model = load_population()
    victim = ((frame["true_labour"] == 1) | (frame["true_sexual"] == 1)).to_numpy()
    for status in model.statuses:
        in_status = (frame["migrant_status"] == status).to_numpy()
        expected = _expected_asked_rate(model, status)
        asked = {
            "victims": (frame.loc[in_status & victim, INDICATORS] != "not_asked").to_numpy(),
            "non-victims": (frame.loc[in_status & ~victim, INDICATORS] != "not_asked").to_numpy(),
        }
        assert len(asked["victims"]) > 300, status
        # Asking is drawn per screening given the status, so rows are independent given the truth.
        for who, table in asked.items():
            se = np.sqrt(expected * (1 - expected) / len(table))
            gap = np.abs(table.mean(axis=0) - expected)
            assert (gap <= Z_TOLERANCE * se + 1e-12).all(), (status, who, np.array(INDICATORS)[gap > Z_TOLERANCE * se])
        rates = [t.mean(axis=0) for t in asked.values()]
        se = np.sqrt(expected * (1 - expected) * sum(1 / len(t) for t in asked.values()))
        assert (np.abs(rates[0] - rates[1]) <= Z_TOLERANCE * se + 1e-12).all(), status
        # Nor does the number of questions asked.
        counts = [t.sum(axis=1) for t in asked.values()]
        pooled = np.concatenate(counts).std()
        diff_se = pooled * math.sqrt(sum(1 / len(c) for c in counts))
        assert abs(counts[0].mean() - counts[1].mean()) <= Z_TOLERANCE * diff_se, status


@pytest.mark.parametrize("form", FORMS)
def test_each_interview_form_asks_what_it_declares(tmp_path: Path, form: str) -> None:
    def only(config: dict[str, Any]) -> None:
        config["interviews"]["forms"] = {form: 1.0}

    path = _config_with(tmp_path, only)
    model = load_population(config_path=path)
    q = load_questionnaire()
    frame = generate(rows=4_000, seed=2, config_path=path)
    asked = (frame[INDICATORS] != "not_asked").to_numpy()
    statuses = frame["migrant_status"].to_numpy()
    applies = np.array([[f.applies(s) for f in q.indicators] for s in statuses])
    assert not (asked & ~applies).any()
    if form == "full":
        assert (asked == applies).all()
    elif form == "short_form":
        assert (asked == (applies & model.short_form)).all()
        assert 12 <= model.short_form.sum() <= 16
        dims = {q.field(i).dimension for i in np.array(INDICATORS)[model.short_form]}
        assert dims == {d for d, _ in q.dimensions}  # every dimension has a question on it
    elif form == "interrupted":
        low, high = model.interrupted_range
        for row_asked, row_applies in zip(asked, applies, strict=True):
            k = int(row_asked.sum())
            assert min(low, row_applies.sum()) <= k <= min(high, row_applies.sum())
            # The first k applicable questions, in the questionnaire's order.
            assert (row_asked == (row_applies & (np.cumsum(row_applies) <= k))).all()
    else:
        rate = 1 - float(asked[applies].mean())
        n = int(applies.sum())
        assert abs(rate - model.skip_rate) <= Z_TOLERANCE * math.sqrt(model.skip_rate * (1 - model.skip_rate) / n)


def test_mask_interviews_keeps_a_random_subset_of_the_applicable_asked_questions(population: Factory) -> None:
    frame = validate_frame(population(rows=6_000, seed=3))
    masked = mask_interviews(frame, seed=5, min_asked=3, max_asked=20)
    assert not {"p_labour", "p_sexual"} & set(masked.columns)
    before = (frame[INDICATORS] != "not_asked").to_numpy()
    after = (masked[INDICATORS] != "not_asked").to_numpy()
    q = load_questionnaire()
    applies = np.array([[f.applies(s) for f in q.indicators] for s in frame["migrant_status"]])
    assert not (after & ~before).any()  # never asks what was not asked
    assert not (after & ~applies).any()
    kept = after.sum(axis=1)
    available = before.sum(axis=1)
    assert (kept >= np.minimum(3, available)).all()
    assert (kept <= np.minimum(20, available)).all()
    # Kept answers are unchanged; other columns too.
    answers, original = masked[INDICATORS].to_numpy(), frame[INDICATORS].to_numpy()
    assert (answers[after] == original[after]).all()
    others = [c for c in masked.columns if c not in INDICATORS]
    pd.testing.assert_frame_equal(masked[others], frame[others])
    # Same seed, same mask; another seed, another one.
    pd.testing.assert_frame_equal(mask_interviews(frame, seed=5, min_asked=3, max_asked=20), masked)
    assert not mask_interviews(frame, seed=6, min_asked=3, max_asked=20).equals(masked)


def test_mask_interviews_draws_k_and_the_subset_uniformly(population: Factory) -> None:
    frame = population(rows=40_000, seed=3)
    asked = (frame[RETURNEE_QUESTIONS] != "not_asked").to_numpy()
    full = frame[(frame["migrant_status"] == "returnee").to_numpy() & asked.all(axis=1)]  # every question asked
    assert len(full) > 3_000
    masked = mask_interviews(full, seed=1, min_asked=3)
    assert (masked[sorted(set(INDICATORS) - set(RETURNEE_QUESTIONS))] == "not_asked").all().all()
    after = (masked[RETURNEE_QUESTIONS] != "not_asked").to_numpy()
    k = after.sum(axis=1)
    n = len(RETURNEE_QUESTIONS)
    # k uniform on 3..n: mean (3 + n) / 2, variance ((n - 2)^2 - 1) / 12.
    assert abs(k.mean() - (3 + n) / 2) <= Z_TOLERANCE * math.sqrt(((n - 2) ** 2 - 1) / 12 / len(k))
    assert {3, n} <= set(k.tolist())
    # Given k, every question is equally likely to be kept: share k/n.
    expected = (k / n).mean()
    se = math.sqrt(expected * (1 - expected) / len(k))
    assert (np.abs(after.mean(axis=0) - expected) <= Z_TOLERANCE * se).all()


def test_mask_interviews_can_leave_context_unrecorded_and_stays_exact(population: Factory) -> None:
    """Context left out at random (never migrant_status) is no evidence the posterior cannot handle:
    it still matches the truth's rate among the rows whose context was cut."""
    frame = population(rows=30_000, seed=4)
    masked = mask_interviews(frame, seed=2, min_asked=0, max_asked=5, context_unrecorded=0.4)
    q = load_questionnaire()
    for f in q.context:
        share = float((masked[f.id] == "unknown").mean())
        if f.id == "migrant_status":
            assert share == 0.0
        else:
            before = float((frame[f.id] == "unknown").mean())
            expected = before + (1 - before) * 0.4
            assert abs(share - expected) <= Z_TOLERANCE * math.sqrt(expected * (1 - expected) / len(masked))
    exact = true_probabilities(masked)
    for outcome in ("labour", "sexual"):
        truth = masked[f"true_{outcome}"].to_numpy()
        p = exact[f"p_{outcome}"].to_numpy()
        assert abs(p.mean() - truth.mean()) <= Z_TOLERANCE * math.sqrt(p.mean() * (1 - p.mean()) / len(p))
    with pytest.raises(ValueError, match="context_unrecorded"):
        mask_interviews(frame, seed=1, context_unrecorded=1.5)


def test_mask_interviews_refuses_a_bad_range(population: Factory) -> None:
    frame = population(rows=50, seed=3)
    for low, high in ((-1, None), (5, 4), (2.5, None)):
        with pytest.raises(ValueError, match="min_asked"):
            mask_interviews(frame, seed=1, min_asked=low, max_asked=high)  # type: ignore[arg-type]
    nothing = mask_interviews(frame, seed=1, min_asked=0, max_asked=0)
    assert (nothing[INDICATORS] == "not_asked").all().all()


# --------------------------------------------------------------------------- effects


def _yes_ratio(frame: pd.DataFrame, indicator: str, truth: str) -> tuple[float, float]:
    """P(yes | truth, answered) / P(yes | none, answered) and its relative standard error."""
    first = frame.drop_duplicates("group_id")  # independent rows
    victim = first[truth] == 1
    only = victim & (first["true_sexual" if truth == "true_labour" else "true_labour"] == 0)
    none = (first["true_labour"] == 0) & (first["true_sexual"] == 0)
    rates, rel = [], []
    for mask in (only, none):
        answered = first.loc[mask, indicator].isin(["yes", "no"])
        yes = first.loc[mask, indicator] == "yes"
        n, rate = int(answered.sum()), float(yes.sum() / answered.sum())
        rates.append(rate)
        rel.append(math.sqrt(rate * (1 - rate) / n) / rate)
    return rates[0] / rates[1], math.hypot(*rel)


@pytest.mark.parametrize(
    ("indicator", "truth", "expected"),
    [
        ("documents_withheld", "true_labour", 6.0),  # strong
        ("deceived_wages", "true_labour", 2.2),  # medium
        ("sexual_violence", "true_sexual", 10.0),  # override for sexual exploitation
        (NULL_INDICATOR, "true_labour", 1.0),  # no effect
    ],
)
def test_likelihood_ratios_match_the_config(
    population: Factory, global_random_seed: int, indicator: str, truth: str, expected: float
) -> None:
    ratio, rel_se = _yes_ratio(population(seed=global_random_seed), indicator, truth)
    assert abs(math.log(ratio / expected)) <= Z_TOLERANCE * rel_se, f"{ratio:.3f} vs {expected} (rel se {rel_se:.3f})"


def test_null_indicator_is_independent_of_the_truth(population: Factory, global_random_seed: int) -> None:
    frame = population(seed=global_random_seed)
    for truth in ("true_labour", "true_sexual"):
        # Within each migrant_status: who is asked what (and how far an interview gets) depends on
        # the status, and the status on the truth; given the status, the null answers must not.
        asked_of = load_questionnaire().field(NULL_INDICATOR).applies_to
        for status, group in frame[frame["migrant_status"].isin(asked_of)].groupby("migrant_status"):
            table = pd.crosstab(group[truth], group[NULL_INDICATOR]).reindex(columns=list(ANSWERS), fill_value=0)
            assert chi2_contingency(table).pvalue > 1e-4, (truth, status)
        # The same test finds a real indicator's association (the check can fail).
        real = pd.crosstab(frame[truth], frame["deceived_job_nature"])
        assert chi2_contingency(real).pvalue < 1e-12, truth


def test_null_indicator_leaves_the_probability_unchanged(population: Factory) -> None:
    frame = validate_frame(population(rows=300, seed=2))
    flipped = frame.copy()
    flipped[NULL_INDICATOR] = np.where(frame[NULL_INDICATOR] == "yes", "no", "yes")
    pd.testing.assert_frame_equal(true_probabilities(flipped), true_probabilities(frame), rtol=1e-12)


# --------------------------------------------------------------------------- calibration


def _calibration_z(p: np.ndarray, y: np.ndarray) -> list[float]:
    """Per bin of p: (events - expected events) / binomial sd; bins with too few events skipped."""
    edges = np.array([0.0, 0.002, 0.01, 0.03, 0.1, 0.3, 0.6, 0.9, 1.0 + 1e-9])
    out = []
    for low, high in itertools.pairwise(edges):
        inside = (p >= low) & (p < high)
        variance = float((p[inside] * (1 - p[inside])).sum())
        if variance >= 5:
            out.append(float((y[inside].sum() - p[inside].sum()) / math.sqrt(variance)))
    return out


def _assert_calibrated(p: np.ndarray, y: np.ndarray, outcome: str) -> None:
    z = _calibration_z(p, y)
    assert len(z) >= 4, outcome
    assert max(map(abs, z)) <= CALIBRATION_Z, (outcome, z)


def test_probabilities_are_calibrated(population: Factory, global_random_seed: int) -> None:
    first = population(seed=global_random_seed).drop_duplicates("group_id")  # one row per case: independent
    for outcome in ("labour", "sexual"):
        p = first[f"p_{outcome}"].to_numpy()
        y = first[f"true_{outcome}"].to_numpy()
        _assert_calibrated(p, y, outcome)
        # The test fails on a score that is merely good at ranking.
        assert max(map(abs, _calibration_z(np.sqrt(p), y))) > CALIBRATION_Z, outcome
        assert max(map(abs, _calibration_z(p**1.3, y))) > CALIBRATION_Z, outcome


def test_posterior_without_the_protected_attributes_is_calibrated_and_ignores_them(
    population: Factory, global_random_seed: int
) -> None:
    """``hidden`` gives P(truth | the other fields): the best any model without them can do."""
    first = population(seed=global_random_seed).drop_duplicates("group_id")
    hidden = ("gender", "age_band", "citizenship", "region")
    restricted = true_probabilities(first, hidden=hidden)
    for outcome in ("labour", "sexual"):
        p = restricted[f"p_{outcome}"].to_numpy()
        y = first[f"true_{outcome}"].to_numpy()
        _assert_calibrated(p, y, outcome)
        # Less information: a worse log-loss than the posterior given every field.
        full = first[f"p_{outcome}"].to_numpy()
        assert _log_loss(y, p) > _log_loss(y, full), outcome
    # The hidden fields' values do not matter; the answers still do.
    shuffled = first.copy()
    shuffled["gender"] = np.where(first["gender"] == "woman", "man", "woman")
    shuffled["age_band"] = first["age_band"].sample(frac=1.0, random_state=1).to_numpy()
    pd.testing.assert_frame_equal(true_probabilities(shuffled, hidden=hidden), restricted, rtol=1e-12)
    answered = first.copy()
    answered["documents_withheld"] = np.where(first["documents_withheld"] == "yes", "no", "yes")
    assert (true_probabilities(answered, hidden=hidden)["p_labour"] != restricted["p_labour"]).all()
    # An indicator can be hidden too: it is then a question not asked.
    not_asked = first.copy()
    not_asked["documents_withheld"] = "not_asked"
    pd.testing.assert_frame_equal(
        true_probabilities(first, hidden=("documents_withheld",)), true_probabilities(not_asked), rtol=1e-12
    )
    with pytest.raises(ValueError, match="migrant_status"):
        true_probabilities(first, hidden=("migrant_status",))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


ASKED_BINS = ((0, 8), (9, 16), (17, 28), (29, len(INDICATORS)))


def test_posterior_is_calibrated_by_number_of_questions_asked(population: Factory, global_random_seed: int) -> None:
    """On generated partial interviews and on interviews cut further by ``mask_interviews``."""
    first = population(seed=global_random_seed).drop_duplicates("group_id")
    masked = mask_interviews(first, seed=global_random_seed, min_asked=3)
    masked_p = true_probabilities(masked)
    # The same questions read as "no" when not asked: a plausible mistake the test must catch.
    as_no = masked.copy()
    as_no[INDICATORS] = as_no[INDICATORS].replace("not_asked", "no")
    as_no_p = true_probabilities(as_no)
    worst_as_no = 0.0
    for frame, p in ((first, first[["p_labour", "p_sexual"]]), (masked, masked_p)):
        n_asked = (frame[INDICATORS] != "not_asked").sum(axis=1).to_numpy()
        for low, high in ASKED_BINS:
            inside = (n_asked >= low) & (n_asked <= high)
            assert inside.sum() > 5_000, (low, high)
            for outcome in ("labour", "sexual"):
                y = frame[f"true_{outcome}"].to_numpy()[inside]
                _assert_calibrated(p[f"p_{outcome}"].to_numpy()[inside], y, f"{outcome}, {low}-{high} asked")
                if frame is masked:
                    z = _calibration_z(as_no_p[f"p_{outcome}"].to_numpy()[inside], y)
                    worst_as_no = max([worst_as_no, *map(abs, z)])
    assert worst_as_no > CALIBRATION_Z


def test_asking_fewer_questions_never_gives_a_better_log_loss(population: Factory, global_random_seed: int) -> None:
    """The exact posterior of nested interviews: the fewer questions, the larger the log-loss."""
    first = population(seed=global_random_seed).drop_duplicates("group_id")
    full = first[(first["migrant_status"] == "returnee") & (first[RETURNEE_QUESTIONS] != "not_asked").all(axis=1)]
    losses = {}
    frame = full
    for max_asked in (len(RETURNEE_QUESTIONS), 24, 12, 5, 0):
        frame = mask_interviews(frame, seed=global_random_seed, min_asked=min(3, max_asked), max_asked=max_asked)
        p = true_probabilities(frame)
        losses[max_asked] = sum(_log_loss(full[f"true_{o}"].to_numpy(), p[f"p_{o}"].to_numpy()) for o in OUTCOMES)
    values = list(losses.values())
    assert all(a < b for a, b in itertools.pairwise(values)), losses
    # With every question masked, what is left is the context: the same p for the same context.
    q = load_questionnaire()
    context = [f.id for f in (*q.context, *q.monitoring)]
    assert p.groupby([full[c] for c in context]).nunique().max().max() == 1


def test_scenarios_do_not_change_what_p_means(population: Factory) -> None:
    frame = population(rows=5_000, seed=6, scenario="bias-gender")
    recomputed = true_probabilities(frame, scenario="default")
    np.testing.assert_allclose(frame["p_labour"], recomputed["p_labour"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(frame["p_sexual"], recomputed["p_sexual"], rtol=1e-9, atol=1e-12)


def _brute_force(model: PopulationModel, row: pd.Series) -> np.ndarray:
    """P(truth | row) by enumerating gender, truth, answering style and all 2^D factor settings."""
    joint = _brute_joint(model, row)
    return joint / joint.sum()


def _brute_joint(model: PopulationModel, row: pd.Series) -> np.ndarray:
    """P(truth, row's fields), up to a factor the same for every truth; not_asked has factor 1."""
    q = load_questionnaire()
    s = model.statuses.index(row["migrant_status"])
    genders = range(len(model.genders)) if row["gender"] == "unknown" else [model.genders.index(row["gender"])]
    real = [i for i in range(len(q.indicator_ids)) if not model.null_mask[i]]  # null ones: same for every truth
    answers = np.array([row[q.indicator_ids[i]] for i in real])
    settings = np.array(list(itertools.product((0, 1), repeat=len(model.dimensions))))  # (2^D, D)
    on = settings[:, model.dim_index[real]].astype(bool)  # (2^D, I')
    p_settings = np.where(settings == 1, model.factor_share, 1 - model.factor_share).prod(axis=1)
    joint = np.zeros(len(TRUTHS))
    for g in genders:
        for t in range(len(TRUTHS)):
            prior = model.gender_p[s, g] * model.truth_p[s, g, t]
            for k, field in enumerate(model.context_ids):
                if row[field] != "unknown":
                    prior *= model.context_p[k][s, g, t, model.context_levels[k].index(row[field])]
            total = 0.0
            for w in (0, 1):
                declined = model.declined_p[w]
                dont_know = model.dont_know_p[t, s, model.stage_index[real]]
                yes = np.where(on, model.yes_p[t, 1, real], model.yes_p[t, 0, real])  # (2^D, I')
                cell = {
                    "declined": np.full_like(yes, declined),
                    "dont_know": np.broadcast_to((1 - declined) * dont_know, yes.shape),
                    "yes": (1 - declined) * (1 - dont_know) * yes,
                    "no": (1 - declined) * (1 - dont_know) * (1 - yes),
                    "not_asked": np.ones_like(yes),
                }
                probs = np.stack([cell[a][:, j] for j, a in enumerate(answers)], axis=1)  # (2^D, I')
                p_w = model.guarded_p[t] if w else 1 - model.guarded_p[t]
                total += p_w * float((p_settings * probs.prod(axis=1)).sum())
            joint[t] += prior * total
    return joint


def test_probabilities_are_the_exact_posterior(population: Factory) -> None:
    model = load_population()
    frame = validate_frame(population(rows=4_000, seed=9))
    # Recomputed from the text columns, p equals the generated p: the frame carries it faithfully.
    recomputed = true_probabilities(frame)
    np.testing.assert_allclose(recomputed.to_numpy(), frame[["p_labour", "p_sexual"]].to_numpy(), rtol=1e-9, atol=1e-14)
    # Against brute-force enumeration, on victims and non-victims, with gender and context unrecorded.
    rows = pd.concat(
        [frame[frame["true_labour"] == 1].head(3), frame[frame["true_sexual"] == 1].head(3), frame.head(4)]
    )
    edited = rows.reset_index(drop=True)
    edited["gender"] = edited["gender"].where(edited.index >= 4, "unknown")
    edited["destination"] = edited["destination"].where((edited.index < 2) | (edited.index >= 6), "unknown")
    partial = frame[(frame[INDICATORS] == "not_asked").sum(axis=1).between(5, 30)].head(4)
    edited = pd.concat([rows, edited, partial], ignore_index=True)
    fast = true_probabilities(edited).to_numpy()
    for i in range(len(edited)):
        exact = _brute_force(model, edited.iloc[i])
        np.testing.assert_allclose(fast[i], [exact[1] + exact[3], exact[2] + exact[3]], rtol=1e-9)


def test_a_question_not_asked_is_the_same_as_summing_over_its_answers(population: Factory) -> None:
    """The posterior of a cut interview equals the full model's, marginalised over the cut answers.

    Brute force: for rows whose interview was complete, mask two asked questions (one of them
    declined where possible, since declining informs the answering style), then sum the
    full-interview joint over all 4 x 4 answers the two could have had.
    """
    model = load_population()
    frame = validate_frame(population(rows=20_000, seed=9))
    complete = frame[(frame[RETURNEE_QUESTIONS] != "not_asked").all(axis=1) & (frame["migrant_status"] == "returnee")]
    declined = complete[(complete[RETURNEE_QUESTIONS] == "declined").any(axis=1)]
    rows = pd.concat([declined.head(3), complete[complete["true_labour"] == 1].head(2), complete.head(2)])
    assert len(rows) == 7
    answers = ("yes", "no", "dont_know", "declined")
    masked = rows.copy()
    for n, (index, row) in enumerate(rows.iterrows()):
        said = [i for i in INDICATORS if i != NULL_INDICATOR and row[i] == "declined"]
        first = said[0] if said else "documents_withheld"
        cut = [first, "deceived_wages" if first != "deceived_wages" else "isolation"]
        masked.loc[index, cut] = "not_asked"
        summed = np.zeros(len(TRUTHS))
        for a, b in itertools.product(answers, repeat=2):
            filled = row.copy()
            filled[cut] = [a, b]
            summed += _brute_joint(model, filled)
        summed /= summed.sum()
        fast = true_probabilities(masked.loc[[index]]).to_numpy()[0]
        np.testing.assert_allclose(fast, [summed[1] + summed[3], summed[2] + summed[3]], rtol=1e-9)
        assert not np.allclose(fast, row[["p_labour", "p_sexual"]].to_numpy(float), rtol=1e-6), n


# --------------------------------------------------------------------------- identification bias


def test_default_labels_are_the_truth(population: Factory) -> None:
    frame = population(seed=3)
    assert (frame["is_labour"] == frame["true_labour"]).all()
    assert (frame["is_sexual"] == frame["true_sexual"]).all()


def test_gender_identification_bias(population: Factory) -> None:
    frame = population(rows=200_000, seed=5, scenario="bias-gender").drop_duplicates("group_id")
    model = load_population(scenario="bias-gender")
    for outcome, o in (("labour", 0), ("sexual", 1)):
        for gender in ("man", "woman"):
            victims = frame[(frame[f"true_{outcome}"] == 1) & (frame["gender"] == gender)]
            rate = float(model.identification[o, model.genders.index(gender)])
            seen = victims[f"is_{outcome}"].mean()
            se = math.sqrt(rate * (1 - rate) / len(victims))
            assert abs(seen - rate) <= Z_TOLERANCE * se + 1e-12, (outcome, gender, seen, rate)
    assert model.identification[1, model.genders.index("man")] == pytest.approx(0.3)
    assert model.identification[0, model.genders.index("woman")] == pytest.approx(0.3)
    assert (frame["is_labour"] <= frame["true_labour"]).all()


# --------------------------------------------------------------------------- config errors


def _config_with(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    config = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
    edit(config)
    path = tmp_path / "population.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(migrant_statuss=c.pop("migrant_status")), "migrant_status"),
        (
            lambda c: c["context"]["destination"]["mix"]["returnee"]["man"].update(XYZ=0.1),
            r"\['XYZ'\] not allowed",
        ),
        (lambda c: c["context"].pop("job_found_via"), r"context: missing \['job_found_via'\]"),
        (lambda c: c["indicators"]["likelihood_ratio"].update(strong=40.0), "P\\(yes\\) reaches"),
        (lambda c: c["truth"]["returnee"]["man"].update(labour=1.5), "must be a probability"),
        (lambda c: c["interviews"]["forms"].update(phone=0.1), r"interviews.forms: \['phone'\] not allowed"),
        (lambda c: c["interviews"]["short_form"].append("threatz"), r"interviews.short_form: \['threatz'\]"),
        (lambda c: c["interviews"]["short_form"].clear(), "list at least one indicator"),
        (lambda c: c["interviews"]["interrupted"].update(min_asked=9, max_asked=4), r"min_asked \(9\)"),
        (lambda c: c["interviews"]["random_skips"].update(rate=1.0), "must be a probability"),
        (lambda c: c.pop("interviews"), "interviews: Field required"),
        (
            lambda c: c["scenarios"]["default"].update(interview_forms={"full": -1.0, "short_form": 1.0}),
            r"scenarios.default.interview_forms: weights must be non-negative",
        ),
        # A config written before the answer 'unknown' was split into dont_know and not_asked.
        (lambda c: c["answers"].update(unknown=c["answers"].pop("dont_know")), "answers.dont_know: Field required"),
    ],
)
def test_config_errors_are_clear(tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str) -> None:
    path = _config_with(tmp_path, edit)
    with pytest.raises(PopulationConfigError, match=message):
        load_population(config_path=path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(PopulationConfigError, match="does not exist"):
        synthetic.generate(rows=5, seed=1, config_path=tmp_path / "none.yaml")


def _sample_differences(committed: Path, fresh: Path) -> list[str]:
    """Cells that differ, comparing numbers with decimals to 1e-12 relative and all else exactly.

    The last digit of a float written with 17 significant digits depends on the CPU's
    floating-point rounding (0.020974186285875218 on one machine, ...215 on another).
    """
    with committed.open(encoding="utf-8", newline="") as a, fresh.open(encoding="utf-8", newline="") as b:
        old, new = list(csv.reader(a)), list(csv.reader(b))
    if old[:1] != new[:1] or len(old) != len(new):
        return [f"header or row count: {old[:1]} ({len(old)} lines) != {new[:1]} ({len(new)} lines)"]
    header = old[0]
    found = []
    for line, (row_old, row_new) in enumerate(zip(old[1:], new[1:], strict=True), start=2):
        for column, x, y in itertools.zip_longest(header, row_old, row_new, fillvalue=""):
            if x == y:
                continue
            if "." in x and "." in y and _close(x, y):
                continue
            found.append(f"line {line}, {column}: {x!r} != {y!r}")
    return found


def _close(x: str, y: str) -> bool:
    try:
        return math.isclose(float(x), float(y), rel_tol=1e-12)
    except ValueError:
        return False


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    sample = default_config_path().parent / "sample.csv"
    fresh = write_frame(generate(rows=300, seed=7, scenario="default"), tmp_path / "sample.csv")
    differences = _sample_differences(sample, fresh)
    assert not differences, (
        "data/synthetic/sample.csv is stale: regenerate it with "
        "`tarozu generate --rows 300 --seed 7 --out data/synthetic/sample.csv`. First differences: "
        + "; ".join(differences[:5])
    )


def test_sample_comparison_tolerates_the_last_digit_only(tmp_path: Path) -> None:
    head = "p_labour,migrant_status\n"
    committed = tmp_path / "committed.csv"
    committed.write_text(head + "0.020974186285875218,returnee\n", encoding="utf-8")
    last_digit, stale_float, stale_text = (tmp_path / f"{n}.csv" for n in ("last_digit", "float", "text"))
    last_digit.write_text(head + "0.020974186285875215,returnee\n", encoding="utf-8")
    stale_float.write_text(head + "0.0209741862859,returnee\n", encoding="utf-8")
    stale_text.write_text(head + "0.020974186285875218,prospective\n", encoding="utf-8")
    assert _sample_differences(committed, last_digit) == []
    assert _sample_differences(committed, stale_float) == [
        "line 2, p_labour: '0.020974186285875218' != '0.0209741862859'"
    ]
    assert _sample_differences(committed, stale_text) == ["line 2, migrant_status: 'returnee' != 'prospective'"]
