"""Bulk scoring's columns are the engine's flat records, case for case, value for value."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from models.bulk import BulkScorer, FlatColumns, encode_frame, flat_names, records
from models.engine import ScreeningEngine
from models.questionnaire import QuestionnaireError
from pipeline.pyfunc import input_frame_to_codes
from tests.support.factories import make_model


@pytest.fixture(scope="module")
def engine() -> ScreeningEngine:
    return ScreeningEngine(make_model(0))


@pytest.fixture(scope="module")
def cases(engine: ScreeningEngine) -> pd.DataFrame:
    """Generated screenings: complete and partial interviews, every status, a few repeated."""
    from pipeline.data.synthetic import generate

    frame = generate(rows=400, seed=5)[list(engine.fields)]
    return pd.concat([frame, frame.head(20)], ignore_index=True)


def test_columns_equal_the_engines_records(engine: ScreeningEngine, cases: pd.DataFrame) -> None:
    codes = input_frame_to_codes(engine.model, cases)
    expected = [engine.flat(a) for a in engine.assess_many(codes)]
    out = BulkScorer(engine).score(codes, chunk_rows=97)  # chunks do not change a value
    assert list(out.columns) == flat_names(engine) == list(expected[0])
    assert records(out) == expected
    # the cases cover what the comparison must cover
    assert {r["status"] for r in expected} == {"refer", "no_referral", "ask_more"}
    assert any(r["referral_tier"] is None for r in expected)
    assert any(r["next_questions"] == "" for r in expected)
    assert any(r["next_questions"] for r in expected)
    assert all(r["labour_top_reasons"].count(";") <= 2 for r in expected)


def test_encoding_equals_the_engines(engine: ScreeningEngine, cases: pd.DataFrame) -> None:
    frame = cases.head(50).astype(object).copy()
    frame.loc[0, "months_abroad"] = "14"  # months, not a bin
    frame.loc[1, "months_abroad"] = np.nan  # missing: not recorded
    frame.loc[2, "documents_withheld"] = None  # missing: not asked
    frame.loc[3, "destination"] = ""
    partial = frame.drop(columns=["excessive_hours"])  # an absent field is not asked
    for f in (frame, partial):
        np.testing.assert_array_equal(encode_frame(engine, f), input_frame_to_codes(engine.model, f))
    with pytest.raises(QuestionnaireError):
        encode_frame(engine, frame.assign(sector="fishing-boat"))


def test_no_rows(engine: ScreeningEngine) -> None:
    out = BulkScorer(engine).score(np.zeros((0, len(engine.fields)), dtype=np.int64))
    assert len(out) == 0
    assert list(out.columns) == flat_names(engine)


@pytest.mark.parametrize("members", [20, 50])
def test_scores_are_the_models_bit_for_bit(members: int) -> None:
    """Every member's sum replays numpy's pairwise order: equal, not close, on any levels; with the tests'
    20 members and the configured 50 (whose interval reads other members of the sorted ones)."""
    from models.bulk import BulkScorer

    engine = ScreeningEngine(make_model(0, n_members=members))
    levels = np.array([len(f.levels) for f in engine.field_defs])
    codes = (np.random.default_rng(3).random((3000, len(levels))) * levels).astype(np.int64)
    expected = engine.model.score_codes(codes)
    got = BulkScorer(engine)._scores(codes)
    for name, s in expected.items():
        for attr in ("log_odds", "probability", "lower", "upper", "band", "above_threshold", "tier"):
            np.testing.assert_array_equal(getattr(got[name], attr), getattr(s, attr), err_msg=f"{name} {attr}")


@pytest.mark.parametrize("m", [3, 4, 7, 20, 50, 101])
def test_interval_is_numpys_percentile_of_the_probabilities(m: int) -> None:
    """Any ensemble's size: the configured 50 members read the 2nd and 3rd, 48th and 49th smallest (the
    tests' models have 20), 101 members the 3rd and 4th; 3 are too few for the shortcut."""
    from models.bulk import _interval
    from models.logodds import expit
    from models.screening import INTERVAL

    rng = np.random.default_rng(4)
    members = rng.normal(-2.0, 1.5, size=(20_000, m))
    members[:100, 2] = members[:100, 1]  # ties within and at the edge of the pairs
    members[100:200, -3] = np.nextafter(members[100:200, -2], -np.inf)  # a hair apart
    members[200:300] = 40.0 + rng.normal(0.0, 1e-9, size=(100, m))  # probabilities all but 1
    members[300:400] = -40.0 + rng.normal(0.0, 1e-9, size=(100, m))  # and all but 0
    members[400:500, 1:3] = members[400:500, :1]  # the member below a pair ties with it
    lower, upper = _interval(members)
    expected = np.percentile(expit(members.T), INTERVAL, axis=0)
    np.testing.assert_array_equal(lower, expected[0])
    np.testing.assert_array_equal(upper, expected[1])


def test_codes_of_any_integer_type_give_the_same_columns(engine: ScreeningEngine, cases: pd.DataFrame) -> None:
    codes = encode_frame(engine, cases)
    scorer = BulkScorer(engine)
    pd.testing.assert_frame_equal(scorer.score(codes.astype(np.uint8)), scorer.score(codes))


def test_partial_interviews_equal_the_engines_records(engine: ScreeningEngine) -> None:
    """A generated file of partial interviews scored in bulk: status, tiers, leaning tier, settled flag,
    flip chance and next questions are the engine's, case for case (repeated cases included)."""
    from pipeline.data.synthetic import generate

    frame = generate(rows=3000, seed=12)[list(engine.fields)]
    codes = encode_frame(engine, frame)
    unasked = engine._applicable[codes[:, engine._status]] & (codes[:, engine._indicators] == engine._not_asked)
    codes = codes[unasked.any(axis=1)]
    codes = np.vstack([codes, codes[:50]])
    names = ["status", "referral_tier", "leaning_tier", "settled", "flip_chance", "next_questions"]
    expected = [{k: engine.flat(a)[k] for k in names} for a in engine.assess_many(codes)]
    out = BulkScorer(engine).score(codes, chunk_rows=700)
    assert [{k: r[k] for k in names} for r in records(out)] == expected
    assert {r["status"] for r in expected} == {"refer", "no_referral", "ask_more"}


def test_worker_processes_give_the_same_columns(engine: ScreeningEngine, cases: pd.DataFrame) -> None:
    """Chunks scored by two worker processes (each with its engine built from the model) are the
    columns of this process, value for value; progress counts every row once."""
    codes = encode_frame(engine, cases)
    scorer = BulkScorer(engine, top_reasons=2)  # not the default: the workers' scorers are made alike
    expected = scorer.score(codes)
    reported: list[int] = []
    got = scorer.columns(codes, workers=2, progress=reported.append).frame()
    pd.testing.assert_frame_equal(got, expected)
    assert len(reported) == 2
    assert sum(reported) == len(codes)
    assert (got["status"] == "ask_more").any()  # partial interviews' outlooks were taken in the workers
    with pytest.raises(ValueError, match="workers must be at least 1, not 0"):
        scorer.columns(codes, workers=0)


@pytest.mark.parametrize("workers", [1, 2])
def test_codes_in_blocks_of_any_sizes_give_the_same_columns(
    engine: ScreeningEngine, cases: pd.DataFrame, workers: int
) -> None:
    """Codes given in blocks as a reader makes them (a register read a batch at a time: blocks of any
    sizes, empty ones too) are scored in the chunks the whole array would be: the same columns, the
    same progress; with no rows, one empty chunk. Without their rows in all (a CSV file read as it is
    scored) the chunks are ``chunk_rows`` each, and the columns the same."""
    codes = encode_frame(engine, cases)
    scorer = BulkScorer(engine, top_reasons=2)
    whole: list[int] = []
    expected = FlatColumns.joined(list(scorer.parts(codes, chunk_rows=97, workers=workers, progress=whole.append)))
    bounds = [0, 1, 1, 50, 97, 98, 260, len(codes)]  # one row, an empty block, a block across chunks
    blocks = (codes[a:b] for a, b in itertools.pairwise(bounds))
    reported: list[int] = []
    parts = list(scorer.parts(blocks, rows=len(codes), chunk_rows=97, workers=workers, progress=reported.append))
    assert [p.rows for p in parts] == whole == reported
    pd.testing.assert_frame_equal(FlatColumns.joined(parts).frame(), expected.frame())
    unknown = list(scorer.parts((codes[a:b] for a, b in itertools.pairwise(bounds)), chunk_rows=97, workers=workers))
    assert [p.rows for p in unknown] == [97, 97, 97, 97, len(codes) - 4 * 97]  # not sized by the rows: chunk_rows
    pd.testing.assert_frame_equal(FlatColumns.joined(unknown).frame(), expected.frame())
    empty = list(scorer.parts(iter([]), rows=0, workers=workers))
    assert [p.rows for p in empty] == [0]
    assert empty[0].frame().columns.tolist() == flat_names(engine)


def test_workers_started_ahead_score_the_same_and_stop(engine: ScreeningEngine, cases: pd.DataFrame) -> None:
    """Workers started before the codes are ready (as ``tarozu score`` starts them while it reads its
    input) give the same columns; they belong to the scorer that started them; leaving the block stops
    them, scored or not (a run refused after they started leaves no process behind)."""
    import multiprocessing

    codes = encode_frame(engine, cases)
    scorer = BulkScorer(engine, top_reasons=2)
    with scorer.start_workers(2) as started:
        with pytest.raises(ValueError, match="started by another scorer"):
            BulkScorer(engine).columns(codes, workers=started)
        got = scorer.columns(codes, workers=started).frame()
        assert len(multiprocessing.active_children()) == 2
    pd.testing.assert_frame_equal(got, scorer.score(codes))
    assert not multiprocessing.active_children()
    with scorer.start_workers(2):  # refused before scoring: the block ends, the workers stop
        pass
    assert not multiprocessing.active_children()
    with pytest.raises(ValueError, match="for two or more, not 1"):
        scorer.start_workers(1)


def test_a_worker_that_cannot_start_is_a_clear_error() -> None:
    from models.bulk import WorkerStoppedError

    engine = ScreeningEngine(make_model(0))
    scorer = BulkScorer(engine)
    codes = np.zeros((10, len(engine.fields)), dtype=np.int64)
    engine.model = None  # type: ignore[assignment]  # what the workers get: no engine can be built from it
    with pytest.raises(WorkerStoppedError, match=r"stopped before its chunk was scored.*with fewer workers"):
        scorer.columns(codes, workers=2)


def test_a_scorer_in_a_server_leaves_the_blas_threads_alone(
    engine: ScreeningEngine, cases: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's ``/invocations`` scores in a thread beside the screenings: its scorer never changes the
    process's BLAS threads (not safe while other threads run BLAS), and scores the same."""
    from contextlib import nullcontext

    import models.bulk

    set_to: list[int] = []
    monkeypatch.setattr(models.bulk, "threadpool_limits", lambda limits: set_to.append(limits) or nullcontext())
    codes = encode_frame(engine, cases)
    left_alone = BulkScorer(engine, blas_threads=None).score(codes)
    assert set_to == []
    pd.testing.assert_frame_equal(left_alone, BulkScorer(engine).score(codes))
    assert set_to  # bulk scoring's own process: one thread for the small products
    assert set(set_to) == {1}
