"""ScreeningModel.score_codes gives, bit for bit, what its plain formulation gives.

score_codes gathers every outcome's members at once, a block of cases at a time, and reads the
uncertainty interval off the sorted members instead of calling np.percentile. Logged
screenings are recomputed later and compared exactly, so every array of every outcome is
compared here byte for byte with :func:`reference`, the formulation it replaced.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pytest

from models.logodds import expit
from models.referral import outcome_tiers
from models.screening import INTERVAL, OutcomeModel, PercentileReads, ScreeningModel
from tests.support.factories import make_model, with_base_shift

FIELDS = ("log_odds", "probability", "lower", "upper", "contributions", "band", "above_threshold", "tier")


def reference(model: ScreeningModel, codes: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """score_codes as it was: one outcome at a time, its members' interval by np.percentile (on the codes
    made row-major, so that every sum over fields is one contiguous row's, whatever the caller's layout)."""
    codes = np.ascontiguousarray(np.atleast_2d(np.asarray(codes, dtype=np.int64)))
    columns = codes + model._offsets
    out = {}
    for name, outcome in model.outcomes.items():
        matrix = model._matrices[name]
        contributions = matrix[0][columns]
        log_odds = outcome.base_value + contributions.sum(axis=1)
        probability = expit(log_odds)
        if matrix.shape[0] > 1:
            members = expit(model._bases[name][1:, None] + np.take(matrix[1:], columns, axis=1).sum(axis=2))
            lower, upper = np.percentile(members, INTERVAL, axis=0)
            lower, upper = np.minimum(lower, probability), np.maximum(upper, probability)
        else:
            lower = upper = probability
        out[name] = {
            "log_odds": log_odds,
            "probability": probability,
            "lower": lower,
            "upper": upper,
            "contributions": contributions,
            "band": outcome.bands(probability),
            "above_threshold": probability >= outcome.threshold,
            "tier": outcome_tiers(probability, outcome.referral),
        }
    return out


def assert_same_scores(model: ScreeningModel, codes: np.ndarray) -> None:
    got = model.score_codes(codes)
    expected = reference(model, codes)
    assert list(got) == list(expected)
    for name, scores in expected.items():
        assert got[name].base_value == model.outcomes[name].base_value
        for attr in FIELDS:
            new, old = getattr(got[name], attr), scores[attr]
            where = f"{name} {attr}, {np.shape(codes)} codes"
            assert new.dtype == old.dtype, where
            assert new.shape == old.shape, where
            assert new.tobytes() == old.tobytes(), where  # bit for bit: NaN, -0.0 and all
            if old.dtype.kind != "f" or not np.isnan(old).any():
                assert np.array_equal(new, old), where


def random_codes(model: ScreeningModel, rng: np.random.Generator, n: int) -> np.ndarray:
    levels = np.asarray(model.encoder.n_levels)
    return (rng.random((n, len(levels))) * levels).astype(np.int64)


def _combined(labour: ScreeningModel, sexual: ScreeningModel) -> ScreeningModel:
    """A model whose outcomes come from two models (so their ensembles can differ in size)."""
    return ScreeningModel(
        fields=labour.fields,
        outcomes={"labour": labour.outcomes["labour"], "sexual": sexual.outcomes["sexual"]},
        answer_model=labour.answer_model,
        dont_know_cap=labour.dont_know_cap,
    )


def _mixed() -> ScreeningModel:
    """Outcomes with different numbers of members."""
    return _combined(make_model(5, n_members=7), make_model(6, n_members=3))


def _one_outcome_without_members() -> ScreeningModel:
    return _combined(make_model(8, n_members=0), make_model(7, n_members=9))


def _with_nan_member() -> ScreeningModel:
    """A member whose table has a NaN at ``yes``: cases answering it get NaN bounds."""
    model = make_model(9, n_members=12)
    field = model.encoder.fields[0]
    outcomes = {}
    for name, o in model.outcomes.items():
        tables = [t.copy() for t in o.ensemble_contributions]
        tables[0][4, field.levels.index("yes")] = np.nan
        outcomes[name] = OutcomeModel(
            base_value=o.base_value,
            contributions=o.contributions,
            threshold=o.threshold,
            high_threshold=o.high_threshold,
            ensemble_base_values=o.ensemble_base_values,
            ensemble_contributions=tables,
            referral=dict(o.referral),
        )
    return ScreeningModel(
        fields=model.fields, outcomes=outcomes, answer_model=model.answer_model, dont_know_cap=model.dont_know_cap
    )


MODELS: dict[str, Callable[[], ScreeningModel]] = {
    "50 members": lambda: make_model(0, n_members=50),
    "20 members": lambda: make_model(1, n_members=20),
    "no members": lambda: make_model(2, n_members=0),
    **{f"{m} members": (lambda m=m: make_model(10 + m, n_members=m)) for m in (1, 2, 3, 4, 21, 41)},
    "mixed members": _mixed,
    "one outcome without members": _one_outcome_without_members,
    "a NaN member": _with_nan_member,
    # probabilities of exactly 1 (ties among the members) and underflowing to 0
    "saturated high": lambda: with_base_shift(make_model(3, n_members=20), 40.0),
    "saturated low": lambda: with_base_shift(make_model(4, n_members=20), -742.0),
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_score_codes_is_its_plain_formulation_bit_for_bit(kind: str) -> None:
    model = MODELS[kind]()
    rng = np.random.default_rng(sum(map(ord, kind)))
    # Only members' scores are made a block at a time; without members a batch is scored whole, so the
    # sizes around a block (half a million rows then) cross nothing: those of a small block stand in.
    block = model._block_rows if model._ensemble is not None else 100
    # a NaN member makes expit warn (invalid value), in the old formulation as in the new
    with np.errstate(invalid="ignore") if kind == "a NaN member" else contextlib.nullcontext():
        _compare_batches(model, rng, block)


def _compare_batches(model: ScreeningModel, rng: np.random.Generator, block: int) -> None:
    for n in (1, 2, 3, 7, 64, block - 1, block, block + 1, 3 * block + 1, 1000):
        codes = random_codes(model, rng, n)
        assert_same_scores(model, codes)
        assert_same_scores(model, np.asfortranarray(codes))  # as a DataFrame's to_numpy() gives it
    codes = random_codes(model, rng, 400)
    assert_same_scores(model, codes[0])  # one case as a vector, as the API scores it
    assert_same_scores(model, codes[::-3])  # a strided view
    assert_same_scores(model, codes.astype(np.uint8))
    assert_same_scores(model, codes[:0])
    assert_same_scores(model, model.encode({}))  # a blank form


@pytest.mark.parametrize("members", [1, 50])
def test_many_single_cases_are_scored_as_before(members: int) -> None:
    model = make_model(21, n_members=members)
    rng = np.random.default_rng(members)
    for row in random_codes(model, rng, 300):
        assert_same_scores(model, row[None, :])


def test_the_fitted_models_scores_are_as_before(trained) -> None:  # type: ignore[no-untyped-def]
    model = trained.model
    codes = model.encoder.transform(trained.splits.test).to_numpy()
    assert_same_scores(model, codes)
    assert_same_scores(model, np.ascontiguousarray(codes))
    for row in codes[:50]:
        assert_same_scores(model, row)


def test_a_code_out_of_range_is_refused_as_before() -> None:
    model = make_model(0, n_members=5)
    codes = random_codes(model, np.random.default_rng(0), 3)
    codes[1, -1] = 99
    with pytest.raises(IndexError):
        reference(model, codes)
    with pytest.raises(IndexError):
        model.score_codes(codes)


@pytest.mark.parametrize("m", range(1, 81))
def test_interval_is_numpys_percentile(m: int) -> None:
    rng = np.random.default_rng(m)
    members = rng.random((2, m, 300))
    members[:, :, :50] = np.round(members[:, :, :50], 1)  # ties
    members[1, m // 2, 50:60] = np.nan
    members[0, :, 60:70] = np.nan
    ordered = np.sort(members, axis=1)
    interval = PercentileReads(m)
    got = np.empty((2, len(INTERVAL), 300))
    interval.read(ordered, got)
    expected = np.stack([np.percentile(members[k], INTERVAL, axis=0) for k in range(2)])
    assert got.tobytes() == expected.tobytes()
    for case in (0, 55, 65, 200):
        one = np.empty((2, len(INTERVAL), 1))
        interval.read_one(ordered[:, :, case : case + 1], one)
        assert one.tobytes() == expected[:, :, case : case + 1].tobytes()
    clean = np.empty((2, len(INTERVAL), 50))
    interval.read(ordered[:, :, :50], clean, nan_free=True)
    assert clean.tobytes() == expected[:, :, :50].tobytes()


def test_a_case_scores_the_same_alone_and_in_a_column_major_batch() -> None:
    """A DataFrame's to_numpy() is column-major; the sums over fields must not follow the layout, or a
    logged screening would not recompute to its logged numbers."""
    model = make_model(0, n_members=20)
    codes = random_codes(model, np.random.default_rng(5), 300)
    batch = model.score_codes(np.asfortranarray(codes))
    for i in (0, 17, 299):
        alone = model.score_codes(codes[i])
        for name, scores in alone.items():
            for attr in ("log_odds", "probability", "lower", "upper"):
                assert getattr(scores, attr)[0] == getattr(batch[name], attr)[i], (name, attr, i)
