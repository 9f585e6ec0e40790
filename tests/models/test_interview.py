"""The settled rule and the next question, checked by enumeration on small questionnaires."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.interview import (
    DRAW_SEED,
    DRAWS,
    EXACT_COMPLETIONS,
    FEW_COMPLETIONS,
    FIRST_DRAWS,
    GRID,
    RANGE,
    CommonDraws,
    _completed,
    _completions,
    _first_places,
    _weighed_movements,
    class_posterior,
    decisions_of,
    outlook,
    seed_entropy,
    upper_bound,
)
from models.logodds import expit

LEVEL = 0.05


def _case(rng: np.random.Generator, *, questions: int, answers: int) -> dict[str, np.ndarray]:
    """A random two-outcome case near its thresholds, with random answer tables."""
    tables = rng.normal(0.0, 0.6, size=(2, questions, answers))
    tables[:, :, 0] += rng.uniform(0.0, 1.5, size=(2, questions))  # "yes" raises
    answer_p = rng.dirichlet(np.ones(answers), size=(4, questions))
    cutoffs = np.array([-2.0, -2.5])
    log_odds = cutoffs + rng.normal(0.0, 1.2, size=2)
    return {
        "log_odds": log_odds,
        "cutoffs": cutoffs,
        "tables": tables,
        "answer_p": answer_p,
        "class_p": class_posterior(expit(log_odds)),
    }


def _exact_flip(case: dict[str, np.ndarray]) -> float:
    """P(decision after every remaining answer != decision now), by plain enumeration."""
    log_odds, cutoffs, tables = case["log_odds"], case["cutoffs"], case["tables"]
    answer_p, class_p = case["answer_p"], case["class_p"]
    n_questions, n_answers = tables.shape[1], tables.shape[2]
    now = bool(np.any(log_odds >= cutoffs))
    grid = np.array(list(itertools.product(range(n_answers), repeat=n_questions)))  # every completion
    p = np.ones((len(class_p), len(grid)))
    z = np.repeat(log_odds[:, None], len(grid), axis=1)
    for u in range(n_questions):
        p *= answer_p[:, u, grid[:, u]]
        z += tables[:, u, grid[:, u]]
    total = class_p @ p @ (np.any(z >= cutoffs[:, None], axis=0) != now)
    return float(total)


@pytest.mark.parametrize("seed", range(6))
def test_enumerated_outlook_is_exact(seed: int) -> None:
    """With few questions left every completion is weighed: the flip chance is exact."""
    case = _case(np.random.default_rng(seed), questions=5, answers=4)
    assert EXACT_COMPLETIONS >= 4**5
    view = outlook(**case, level=LEVEL, seed=seed)
    assert view.exact
    assert view.flip_chance == pytest.approx(_exact_flip(case), abs=1e-12)
    assert view.settled == (view.flip_chance < LEVEL)


@pytest.mark.parametrize("seed", range(4))
def test_sampled_flip_chance_matches_enumeration(seed: int) -> None:
    """Seven questions of four answers (16,384 completions) are sampled: within sampling error."""
    rng = np.random.default_rng(100 + seed)
    case = _case(rng, questions=7, answers=4)
    exact = _exact_flip(case)
    view = outlook(**case, level=LEVEL, seed=seed, samples=4000)
    assert not view.exact
    se = np.sqrt(max(exact * (1 - exact), 1e-4) / 4000)
    assert abs(view.flip_chance - exact) < 4 * se


def test_settled_never_hides_a_likely_flip() -> None:
    """Whenever the rule says settled, the exact chance that the remaining answers flip it is below the level.

    Many random small cases, some near their thresholds, on both paths (exact and sampled).
    """
    rng = np.random.default_rng(7)
    checked = settled_sampled = 0
    for i in range(150):
        questions, answers = (4, 4) if i % 2 else (7, 4)
        case = _case(rng, questions=questions, answers=answers)
        view = outlook(**case, level=LEVEL, seed=i)
        exact = _exact_flip(case) if questions == 7 else view.flip_chance
        if view.settled:
            checked += 1
            settled_sampled += not view.exact
            assert exact < LEVEL, (i, exact, view.flip_chance)
        else:
            # not settled: either a real chance of a flip, or too close to call by sampling
            assert exact >= LEVEL or not view.exact
    assert checked > 20
    assert settled_sampled > 5


def test_nothing_left_to_ask_is_settled() -> None:
    view = outlook(
        log_odds=np.array([0.0, -1.0]),
        cutoffs=np.array([-1.0, -1.0]),
        tables=np.zeros((2, 0, 4)),
        answer_p=np.zeros((4, 0, 4)),
        class_p=np.array([0.7, 0.1, 0.1, 0.1]),
        level=LEVEL,
    )
    assert view.settled
    assert view.flip_chance == 0.0
    assert view.order == []
    np.testing.assert_allclose(view.ranges[:, 0], expit(np.array([0.0, -1.0])))


def test_the_question_that_decides_comes_first() -> None:
    """One question can flip the decision, the others cannot: it is proposed first."""
    tables = np.zeros((2, 4, 4))
    tables[0, 2, 0] = 3.0  # question 2 answered yes pushes labour over its threshold
    tables[:, :, 1] = -0.01
    answer_p = np.tile(np.array([0.3, 0.6, 0.05, 0.05]), (4, 4, 1))
    view = outlook(
        log_odds=np.array([-2.5, -4.0]),
        cutoffs=np.array([-1.0, -1.0]),
        tables=tables,
        answer_p=answer_p,
        class_p=np.array([0.25, 0.25, 0.25, 0.25]),
        level=LEVEL,
    )
    assert view.order[0] == 2
    assert view.effects[2] > 0.1
    assert not view.settled


def test_same_case_same_outlook() -> None:
    case = _case(np.random.default_rng(3), questions=9, answers=4)
    first, second = (outlook(**case, level=LEVEL, seed=[1, 2, 3]) for _ in range(2))
    assert first.flip_chance == second.flip_chance
    assert first.order == second.order


def test_upper_bound_is_above_the_share() -> None:
    for flips, n in ((0, 400), (5, 400), (40, 400), (400, 400)):
        assert flips / n <= upper_bound(flips, n) <= 1.0
    assert upper_bound(0, 400) < 0.05 < upper_bound(20, 400)


@pytest.mark.parametrize("seed", range(4))
def test_sampled_completions_are_the_plain_inverse_cdf_draws(seed: int) -> None:
    """The fast draws are, bit for bit, the plain formulation's (a gather of (N, U, A) and a sum over
    answers, then one sum of the completion's contributions per outcome): a logged screening keeps
    recomputing to the response whose hash it stores."""
    case = _case(np.random.default_rng(seed), questions=45, answers=4)
    codes = [seed, 7, 0, 3, 2**31]
    rng = np.random.default_rng(codes)
    answer_p, class_p, tables = case["answer_p"], case["class_p"], case["tables"]
    classes = np.minimum(np.searchsorted(np.cumsum(class_p), rng.random(400), side="right"), 3)
    cdf = np.cumsum(answer_p, axis=2)[classes]
    expected = np.minimum((cdf <= rng.random((400, 45, 1))).sum(axis=2), 3)
    answers, _weights, exact = _completions(
        answer_p, class_p, rng=lambda: np.random.default_rng(seed_entropy(codes)), samples=400
    )
    assert not exact
    np.testing.assert_array_equal(answers, expected)
    plain = case["log_odds"][:, None] + tables[:, np.arange(45)[None, :], expected].sum(axis=2)
    assert np.array_equal(_completed(case["log_odds"], tables, answers), plain)


# ------------------------------------------------------------------ rule 2: common draws


def _rule2(case: dict[str, np.ndarray], first: int = FIRST_DRAWS) -> tuple[CommonDraws, dict[str, object]]:
    """Rule 2 for one random case: its draws (one status level) and the arguments of ``outlook``."""
    tables, answer_p = case["tables"], case["answer_p"]
    draws = CommonDraws(tables=tables, answer_p=answer_p[None], cutoffs=case["cutoffs"], level=LEVEL, first=first)
    unasked = np.ones(tables.shape[1], dtype=bool)
    return draws, {"log_odds": case["log_odds"], "class_p": case["class_p"], "unasked": unasked, "status": 0}


def _plain_rule2(
    case: dict[str, np.ndarray], unasked: np.ndarray, first: int = FIRST_DRAWS
) -> tuple[float, int, np.ndarray, np.ndarray]:
    """Rule 2 as its docstring states it, completion by completion: the flip chance, the draws looked
    at, each outcome's range, and each unasked question's effect (how many fewer completions a best
    guess of the final decision gets wrong once that question's answer is known, over the draws)."""
    tables, answer_p, class_p, cutoffs = case["tables"], case["answer_p"], case["class_p"], case["cutoffs"]
    n_questions, n_answers = tables.shape[1:]
    generator = np.random.default_rng(DRAW_SEED)
    now = int(decisions_of(case["log_odds"], cutoffs))
    for n in (first, DRAWS):
        v = np.sort(generator.random(n))
        u = generator.random((n, n_questions))
        completed = np.empty((n, tables.shape[0]))
        answers = np.zeros((n, n_questions), dtype=int)
        for c in range(n):
            k = min(int(np.searchsorted(np.cumsum(class_p), v[c], side="right")), len(class_p) - 1)
            total = np.zeros(tables.shape[0])
            for i in np.flatnonzero(unasked):
                a = min(int((np.cumsum(answer_p[k, i]) <= u[c, i])[: n_answers - 1].sum()), n_answers - 1)
                answers[c, i] = a
                total += np.round(tables[:, i, a] / GRID) * GRID
            completed[c] = case["log_odds"] + total
        decided = decisions_of(completed.T, cutoffs)
        flips = int((decided != now).sum())
        if upper_bound(flips, n) < LEVEL or flips / n >= LEVEL:
            break
    ranks = [max(0, int(np.ceil(q / 100 * n)) - 1) for q in RANGE]
    wrong_now = n - max(int((decided == d).sum()) for d in set(decided.tolist()))
    effects = []
    for i in np.flatnonzero(unasked):
        wrong_after = 0
        for a in range(n_answers):
            given = decided[answers[:, i] == a]
            wrong_after += len(given) - max([int((given == d).sum()) for d in set(given.tolist())] or [0])
        effects.append((wrong_now - wrong_after) / n)
    return flips / n, n, expit(np.sort(completed, axis=0)[ranks].T), np.array(effects)


@pytest.mark.parametrize("first", [FIRST_DRAWS, 300])
@pytest.mark.parametrize("seed", range(3))
def test_rule2_is_its_plain_statement(seed: int, first: int) -> None:
    """The fast rule 2 (precomputed blocks, matrix products) gives, exactly, what its docstring says
    completion by completion, including a second look at close calls; and so does a first look of
    another size (what the interview benchmark measures the size by)."""
    rng = np.random.default_rng(300 + seed)
    informative = 0
    for i in range(8):
        case = _case(rng, questions=12, answers=4)
        if i % 2:  # referral tiers: four decisions
            case["cutoffs"] = np.array([[-3.0, -2.0, -1.0], [-3.5, -2.5, -1.5]])
        if i % 4 < 2:  # question 0's "yes" decides: its answer foretells the final decision
            case["tables"] *= 0.2
            case["tables"][:, 0, 0] += 3.0
        draws, kw = _rule2(case, first)
        unasked = rng.random(12) < 0.7
        unasked[:5] = True  # more completions than FEW_COMPLETIONS: sampled
        kw["unasked"] = unasked
        view = draws.outlook(**kw)  # type: ignore[arg-type]
        flip, n, ranges, effects = _plain_rule2(case, unasked, first)
        assert view.flip_chance == flip
        assert view.settled == (upper_bound(flip * n, n) < LEVEL)
        np.testing.assert_array_equal(view.ranges, ranges)
        np.testing.assert_array_equal(view.effects, effects)
        informative += bool(view.effects.any())
    assert informative  # some question's answer foretells the decision: the counts were compared, not zeros


@pytest.mark.parametrize("seed", range(4))
def test_rule2_flip_chance_matches_enumeration(seed: int) -> None:
    """Seven questions of four answers, enumerated: rule 2's sampled flip chance is within sampling error."""
    case = _case(np.random.default_rng(100 + seed), questions=7, answers=4)
    exact = _exact_flip(case)
    draws, kw = _rule2(case)
    view = draws.outlook(**kw)  # type: ignore[arg-type]
    n = FIRST_DRAWS if view.settled or view.flip_chance >= LEVEL else DRAWS
    se = np.sqrt(max(exact * (1 - exact), 1e-4) / n)
    assert abs(view.flip_chance - exact) < 4 * se + GRID


def test_rule2_settled_never_hides_a_likely_flip() -> None:
    """Whenever rule 2 says settled, the exact chance of a flip is below the level (random small cases
    near their thresholds); and it does settle cases with some chance of a flip."""
    rng = np.random.default_rng(8)
    settled = with_flips = 0
    for _ in range(120):
        case = _case(rng, questions=7, answers=4)
        draws, kw = _rule2(case)
        view = draws.outlook(**kw)  # type: ignore[arg-type]
        exact = _exact_flip(case)
        if view.settled:
            settled += 1
            with_flips += exact > 0
            assert exact < LEVEL, exact
    assert settled > 20
    assert with_flips > 5


@pytest.mark.parametrize("tiers", [False, True])
def test_rule2_many_cases_at_once_are_each_case_alone(tiers: bool) -> None:
    """``outlook_many`` gives every case exactly what ``outlook`` gives it alone, whatever the other
    cases of its batch: four status levels, every case's own posterior and questions still to ask
    (none, few enough to weigh them all, many), settled cases, close calls looked at again, and
    more cases of one status level than are scored by the same products. Without ranges (bulk
    scoring), everything else is the same; ``outlook_columns`` gives the same flip chances, settled
    flags and first questions (questions 0 and 1 are twins, so their ties go by questionnaire order)."""
    rng = np.random.default_rng(31 + tiers)
    n_cases, questions = 700, 20
    case = _case(rng, questions=questions, answers=4)
    answer_p = rng.dirichlet(np.ones(4), size=(4, 4, questions))  # (S, K, I, A)
    case["tables"][:, 1] = case["tables"][:, 0]
    answer_p[:, :, 1] = answer_p[:, :, 0]
    cutoffs = np.array([[-3.0, -2.0, -1.0], [-3.5, -2.5, -1.5]]) if tiers else case["cutoffs"]
    draws = CommonDraws(tables=case["tables"], answer_p=answer_p, cutoffs=cutoffs, level=LEVEL)
    log_odds = rng.normal(-2.2, 1.2, size=(n_cases, 2))
    class_p = np.array([class_posterior(p) for p in expit(log_odds)])
    unasked = rng.random((n_cases, questions)) < rng.random((n_cases, 1))
    unasked[:30] = False
    unasked[30:60, 4:] = False  # at most four left: weighed, not sampled
    for i in range(60, 260):  # one to four left anywhere: weighed, many of each count at once
        unasked[i] = False
        unasked[i, rng.choice(questions, size=rng.integers(1, 5), replace=False)] = True
    status = rng.integers(0, 4, size=n_cases)
    together = draws.outlook_many(log_odds=log_odds, class_p=class_p, unasked=unasked, status=status)
    shuffled = rng.permutation(n_cases)  # other neighbours, other products
    apart = draws.outlook_many(
        log_odds=log_odds[shuffled], class_p=class_p[shuffled], unasked=unasked[shuffled], status=status[shuffled]
    )
    bare = draws.outlook_many(log_odds=log_odds, class_p=class_p, unasked=unasked, status=status, ranges=False)
    top = 5  # more than some cases have left
    flip_chance, settled, first = draws.outlook_columns(
        log_odds=log_odds, class_p=class_p, unasked=unasked, status=status, top=top
    )
    close_calls = twins_tied = weighed_twins_tied = 0
    for i in range(n_cases):
        alone = draws.outlook(log_odds=log_odds[i], class_p=class_p[i], unasked=unasked[i], status=int(status[i]))
        questions = np.flatnonzero(unasked[i])[alone.order[:top]]
        assert (flip_chance[i], settled[i]) == (alone.flip_chance, alone.settled), i
        assert first[i].tolist() == [*questions.tolist(), *[-1] * (top - len(questions))], i
        if unasked[i, :2].all():  # the twins' effects tie (to 12 decimals when weighed): the first goes first
            tied = np.round(alone.effects[0], 12) == np.round(alone.effects[1], 12)
            twins_tied += tied
            weighed_twins_tied += tied and alone.exact
            assert not tied or alone.order.index(0) < alone.order.index(1), i
        for view in (together[i], apart[int(np.flatnonzero(shuffled == i)[0])], bare[i]):
            assert (view.flip_chance, view.settled, view.exact, view.order) == (
                alone.flip_chance,
                alone.settled,
                alone.exact,
                alone.order,
            ), i
            np.testing.assert_array_equal(view.effects, alone.effects)
        np.testing.assert_array_equal(together[i].ranges, alone.ranges)
        np.testing.assert_array_equal(apart[int(np.flatnonzero(shuffled == i)[0])].ranges, alone.ranges)
        assert bare[i].ranges.shape == ((2, 0) if unasked[i].any() else (2, 2))
        # a close call, looked at again: its flip chance is a count of DRAWS, not of FIRST_DRAWS
        close_calls += (alone.flip_chance * FIRST_DRAWS) % 1 != 0
    assert sum(v.exact for v in together) >= 260
    assert sum(v.exact and not v.settled for v in together) > 20
    assert sum(v.settled and not v.exact for v in together) > 50
    assert sum(not v.settled for v in together) > 50
    assert sum(bool(v.effects.any()) for v in together) > 100
    assert close_calls > 0
    assert twins_tied > 5
    assert weighed_twins_tied > 0


def test_rule2_movements_of_many_cases_round_as_each_case_alone() -> None:
    """The expected movements of many cases at once (bulk scoring's stages) are, bit for bit, the product
    of each case alone (``outlook``'s): the ties of equal effects go by them. One product of all the rows
    at once rounds differently for some cases (checked below), so the test can tell the two apart."""
    rng = np.random.default_rng(44)
    case = _case(rng, questions=52, answers=4)
    answer_p = rng.dirichlet(np.ones(4), size=(2, 4, 52))  # (S, K, I, A)
    draws = CommonDraws(tables=case["tables"], answer_p=answer_p, cutoffs=case["cutoffs"], level=LEVEL)
    class_p = rng.dirichlet(np.full(4, 0.3), size=5000)
    rounded_apart = 0
    for status in range(2):
        alone = np.array([p @ draws.movement[status] for p in class_p])
        np.testing.assert_array_equal(draws._movements(class_p, status), alone)
        rounded_apart += int((class_p @ draws.movement[status] != alone).any())
    assert rounded_apart  # a single product of all rows would not do
    # the cases weighed (at most four questions left): each as rule 1 computes it alone
    for m in range(1, 5):
        positions = rng.choice(52, size=(1000, m))
        picked = answer_p[1][:, positions].transpose(1, 0, 2, 3)  # (B, K, m, A)
        largest = np.abs(draws.tables[:, positions]).max(axis=0)  # (B, m, A)
        few = class_p[:1000]
        alone = [
            (np.einsum("k,kua->ua", p, a) * top).sum(axis=1) for p, a, top in zip(few, picked, largest, strict=True)
        ]
        np.testing.assert_array_equal(_weighed_movements(few, picked, largest), np.array(alone))


def test_rule2_the_question_that_decides_comes_first() -> None:
    tables = np.zeros((2, 4, 4))
    tables[0, 2, 0] = 3.0
    tables[:, :, 1] = -0.01
    answer_p = np.tile(np.array([0.3, 0.6, 0.05, 0.05]), (1, 4, 4, 1))
    draws = CommonDraws(tables=tables, answer_p=answer_p, cutoffs=np.array([-1.0, -1.0]), level=LEVEL)
    view = draws.outlook(
        log_odds=np.array([-2.5, -4.0]),
        class_p=np.full(4, 0.25),
        unasked=np.ones(4, dtype=bool),
        status=0,
    )
    assert view.order[0] == 2
    assert view.effects[2] > 0.1
    assert not view.settled


def test_rule2_nothing_left_to_ask_is_settled() -> None:
    case = _case(np.random.default_rng(5), questions=6, answers=4)
    draws, kw = _rule2(case)
    kw["unasked"] = np.zeros(6, dtype=bool)
    view = draws.outlook(**kw)  # type: ignore[arg-type]
    assert view.settled
    assert view.flip_chance == 0.0
    assert view.order == []
    np.testing.assert_array_equal(view.ranges[:, 0], expit(case["log_odds"]))


def test_rule2_effects_are_whole_counts_in_order() -> None:
    """Each effect is a whole number of completions over the draws looked at (so equal effects are
    equal, never a rounding apart), and the order ranks the larger effect first."""
    case = _case(np.random.default_rng(9), questions=8, answers=4)
    draws, kw = _rule2(case)
    view = draws.outlook(**kw)  # type: ignore[arg-type]
    n = FIRST_DRAWS if view.settled or view.flip_chance >= LEVEL else DRAWS
    assert np.array_equal(view.effects * n, np.round(view.effects * n))
    for p in range(len(view.order) - 1):
        a, b = view.order[p], view.order[p + 1]
        assert view.effects[a] >= view.effects[b]


@pytest.mark.parametrize("left", [1, 2, 3, 4])
def test_rule2_weighs_every_completion_when_few_questions_are_left(left: int) -> None:
    """Four answers to at most four questions: at most 256 completions, each weighed; the flip chance
    is exact (no sampling error near the end of an interview)."""
    assert 4**left <= FEW_COMPLETIONS
    rng = np.random.default_rng(40 + left)
    for _ in range(5):
        case = _case(rng, questions=left, answers=4)
        draws, kw = _rule2(case)
        view = draws.outlook(**kw)  # type: ignore[arg-type]
        assert view.exact
        assert view.flip_chance == pytest.approx(_exact_flip(case), abs=1e-12)
        assert view.settled == (view.flip_chance < LEVEL)
    more = _case(rng, questions=5, answers=4)
    draws, kw = _rule2(more)
    assert not draws.outlook(**kw).exact  # type: ignore[arg-type]


def test_rule2_draws_are_shared_by_equal_inputs_and_read_only() -> None:
    """A model loaded again takes the draws made for it before (equal inputs, other arrays), which
    give every outlook the draws made anew give; other inputs get draws of their own, and no one can
    change the shared draws under another engine."""
    rng = np.random.default_rng(47)
    questions = 12
    case = _case(rng, questions=questions, answers=4)
    answer_p = rng.dirichlet(np.ones(4), size=(2, 4, questions))
    inputs = {"tables": case["tables"], "answer_p": answer_p, "cutoffs": case["cutoffs"], "level": LEVEL}
    shared = CommonDraws.shared(**inputs)
    again = CommonDraws.shared(**{k: np.array(v, copy=True) if k != "level" else v for k, v in inputs.items()})
    assert again is shared
    fresh = CommonDraws(**inputs)
    log_odds = rng.normal(-2.2, 1.2, size=(50, 2))
    class_p = np.array([class_posterior(p) for p in expit(log_odds)])
    unasked = rng.random((50, questions)) < 0.6
    status = rng.integers(0, 2, size=50)
    views = [
        d.outlook_many(log_odds=log_odds, class_p=class_p, unasked=unasked, status=status) for d in (shared, fresh)
    ]
    for a, b in zip(*views, strict=True):
        assert (a.flip_chance, a.settled, a.order) == (b.flip_chance, b.settled, b.order)
        np.testing.assert_array_equal(a.ranges, b.ranges)
    with pytest.raises(ValueError, match="read-only"):
        shared._stages[0].contributions[0][0, 0] = 1.0
    case["tables"][0, 0, 0] += 1.0  # the caller's array changes: the shared draws do not
    assert not shared.tables.flags.writeable
    assert shared.tables[0, 0, 0] != case["tables"][0, 0, 0]
    other = CommonDraws.shared(**{**inputs, "level": LEVEL / 2})
    assert other is not shared
    assert other.level == LEVEL / 2


@pytest.mark.parametrize("shape", [(300, 52), (40, 3), (25, 1), (1, 9)])
def test_first_places_are_a_stable_sorts_first_open_columns(shape: tuple[int, int]) -> None:
    """Bulk scoring's first questions of each case are what a stable sort of its open questions by effect,
    then movement (each the larger first), puts first: effects and movements drawn from few values, so
    that ties are common, and rows with fewer open questions than places. The inputs are left as given."""
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    effect = rng.integers(0, 4, size=shape) / 4
    movement = rng.integers(0, 3, size=shape) / 2
    closed = rng.random(shape) < 0.3
    top = 5
    before = effect.copy(), movement.copy(), closed.copy()
    for open_ in (None, ~closed):
        first = _first_places(effect, movement, top=top, open=open_)
        for row in range(shape[0]):
            columns = np.arange(shape[1]) if open_ is None else np.flatnonzero(open_[row])
            ranked = columns[np.lexsort((columns, -movement[row, columns], -effect[row, columns]))][:top]
            assert first[row].tolist() == [*ranked.tolist(), *[-1] * (top - len(ranked))], row
    for kept, given in zip(before, (effect, movement, closed), strict=True):
        np.testing.assert_array_equal(kept, given)
