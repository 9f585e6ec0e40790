"""Partial interviews: is a recommendation settled, and which question to ask next.

A screener rarely asks every question. The recommendation (to refer or not, or which
referral tier) is *settled* when the questions not yet asked would change it only rarely: the
chance of a flip is taken under the model's own predictive distribution of the remaining
answers given those already given. That distribution mixes per-class answer tables,
``P(answer | class, status)`` estimated on training data, by the case's current class
posterior (classes ``none``, ``labour``, ``sexual``, ``both``). Completions of the interview
are drawn from it, and the decision counts as settled only when a one-sided 99.9% upper bound
of the flip chance is below the level (a close call is looked at again with more completions).

The next question is the one whose answer best foretells the final decision (the largest
expected reduction of the error of guessing it now), then the one with the largest expected
change of the log-odds, then the questionnaire's own order.

How the completions are drawn is a numbered *rule* (:data:`RULES`); every logged screening
names its rule and is recomputed with it, so a rule is added, never changed:

- rule 1, :func:`outlook`: with few questions left every completion is enumerated and the
  chance is exact; otherwise 400 completions (2,000 more for a close call) are drawn from a
  generator seeded by the case's answers. Kept to recompute screenings logged with it.
- rule 2, :class:`CommonDraws` (:data:`RULE`, the current one): 512 completions (2,048 others
  for a close call) drawn once per model and common to every case, so that what depends on the
  draws alone is computed once and a case costs a few array products (measured: 2.2 times
  less time than rule 1 per case on the generator's mix of interviews, 3.2 times on an early
  interview). With four questions or fewer left it weighs every completion, as rule 1 does.

Everything here is arrays: no questionnaire, no model file, so it can be checked by
enumeration on a questionnaire of any size."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.logodds import expit

CLASSES: tuple[str, ...] = ("none", "labour", "sexual", "both")
EXACT_COMPLETIONS = 4096
"""Enumerate every completion (exact flip chance) when there are at most this many."""
SAMPLES = 400
"""Completions drawn first when there are more; a close call draws ``MORE_SAMPLES`` more."""
MORE_SAMPLES = 1600
RANGE = (5.0, 95.0)
"""Percentiles of the probability over completions: the range it could still reach."""
_Z = 3.090232306167813  # one-sided 99.9%: a sampled "settled" is wrong about once in a thousand close calls


@dataclass(frozen=True)
class Outlook:
    """What the unasked questions could still do to one case's recommendation.

    ``flip_chance`` is the chance that answering every remaining question changes the
    decision; ``settled`` says whether that is (provably, when sampled) below the level.
    ``ranges`` is, per outcome, the 5th and 95th percentile of the probability over
    completions. ``order`` lists positions of the unasked questions, best next first, and
    ``effects`` gives for each position how much its answer is expected to reduce the chance
    of guessing the final decision wrongly.
    """

    flip_chance: float
    settled: bool
    exact: bool
    ranges: np.ndarray
    order: list[int]
    effects: np.ndarray


def class_posterior(probabilities: np.ndarray) -> np.ndarray:
    """``P(class)`` from the two outcome probabilities, taken as independent."""
    labour, sexual = float(probabilities[0]), float(probabilities[1])
    return np.array(
        [(1 - labour) * (1 - sexual), labour * (1 - sexual), (1 - labour) * sexual, labour * sexual], dtype=float
    )


def upper_bound(flips: float, n: int) -> float:
    """One-sided 99.9% Wilson upper bound of a proportion of ``flips`` in ``n``."""
    return float(upper_bounds(flips, n))


def upper_bounds(flips: Any, n: int) -> Any:
    """:func:`upper_bound` of a number or of each of an array of ``flips`` (the same operations, so the
    same numbers)."""
    p = flips / n
    z2 = _Z * _Z
    centre = p + z2 / (2 * n)
    spread = _Z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.minimum(1.0, (centre + spread) / (1 + z2 / n))


def decisions_of(log_odds: np.ndarray, cutoffs: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """The decision of each completion; ``log_odds`` is (O, ...). As ``dtype`` (``np.int8``: a byte each).

    With ``cutoffs`` of shape (O,): refer (1) when any outcome's log-odds reaches its cut-off,
    else 0. With ``cutoffs`` of shape (O, T), ascending along T (the referral tiers' cut-offs):
    the highest tier over outcomes, 0 to T, each outcome's tier being how many of its cut-offs
    its log-odds reaches.
    """
    if cutoffs.ndim == 1:
        return np.any(log_odds >= cutoffs.reshape((-1,) + (1,) * (log_odds.ndim - 1)), axis=0).astype(dtype)
    shape = cutoffs.shape + (1,) * (log_odds.ndim - 1)
    reached = (log_odds[:, None, ...] >= cutoffs.reshape(shape)).view(np.int8)  # counted as bytes: 10x faster
    return np.asarray(reached.sum(axis=1, dtype=np.int8).max(axis=0), dtype=dtype)


def _completions(
    answer_p: np.ndarray,
    class_p: np.ndarray,
    *,
    rng: Callable[[], np.random.Generator],
    samples: int,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Answers of the completions, (C, U), and their weights, (C,); exact when small.

    ``rng`` makes the seeded generator (only sampling needs one).
    """
    n_classes, n_questions, n_answers = answer_p.shape
    if n_answers**n_questions <= EXACT_COMPLETIONS:
        grid = np.indices((n_answers,) * n_questions).reshape(n_questions, -1).T
        per_class = np.prod(answer_p[:, np.arange(n_questions)[None, :], grid], axis=2)  # (K, C)
        return grid, class_p @ per_class, True
    generator = rng()
    classes = np.minimum(np.searchsorted(np.cumsum(class_p), generator.random(samples), side="right"), n_classes - 1)
    cdf = np.cumsum(answer_p, axis=2)  # (K, U, A)
    u = generator.random((samples, n_questions))
    # The answer is how many of the class's cumulative probabilities u reaches: one gather of
    # (N, U) per answer, counted in integers, instead of a gather of (N, U, A) and a sum over A.
    # The last answer's comparison is left out: reaching every other one already means the last answer.
    rows = classes[:, None] * n_questions + np.arange(n_questions)[None, :]  # (N, U) into (K * U)
    answers = np.zeros((samples, n_questions), dtype=np.uint8)
    for a in range(n_answers - 1):
        np.add(answers, np.take(cdf[:, :, a].ravel(), rows) <= u, out=answers, casting="unsafe")
    return answers, np.full(samples, 1.0 / samples), False


def seed_entropy(seed: int | list[int]) -> int | list[int] | np.ndarray:
    """The seed as :class:`numpy.random.SeedSequence` reads it fastest: a list of small
    non-negative integers as a uint32 array (the same entropy, so the same draws, 7x faster)."""
    if isinstance(seed, list) and all(0 <= s < 1 << 32 for s in seed):
        return np.asarray(seed, dtype=np.uint32)
    return seed


def _completed(log_odds: np.ndarray, tables: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Each outcome's log-odds after each completion, (O, C): ``log_odds`` plus the contributions of
    the completion's answers, added question after question (in order, as one left-to-right sum)."""
    n_outcomes, n_questions, n_answers = tables.shape
    flat = tables.reshape(n_outcomes, n_questions * n_answers)
    picked = np.take(flat, (np.arange(n_questions)[:, None] * n_answers + answers.T), axis=1)  # (O, U, C)
    return log_odds[:, None] + picked.sum(axis=1)


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, percentiles: tuple[float, ...]) -> np.ndarray:
    """The ``percentiles`` of ``values`` (..., C) weighted by ``weights`` (broadcast to them), along the
    last axis: (..., P). A stable sort and running sums; a percentile's pick is how many running sums
    fall short of it (``searchsorted``'s "left" position in the sorted sums)."""
    order = np.argsort(values, axis=-1, kind="stable")
    ordered = np.take_along_axis(np.broadcast_to(weights, values.shape), order, axis=-1)
    cumulative = np.cumsum(ordered, axis=-1)
    cumulative /= cumulative[..., -1:]
    targets = np.asarray(percentiles) / 100.0 - 1e-12
    picks = np.minimum((cumulative[..., None] < targets).sum(axis=-2), values.shape[-1] - 1)
    return np.take_along_axis(np.take_along_axis(values, order, axis=-1), picks, axis=-1)


def answer_effects(
    answers: np.ndarray, weights: np.ndarray, decided: np.ndarray, *, n_answers: int, n_decisions: int
) -> np.ndarray:
    """How much each unasked question's answer is expected to lower the error of guessing the
    final decision now, (B, U), for B cases with the same completions ``answers`` (C, U), from their
    ``weights`` and decisions ``decided`` (B, C). See :func:`outlook`.

    The products are stacked matmuls, which numpy makes case by case with the very BLAS call it
    makes for one case alone (the same shapes and strides), and every sum is over the last axis: a
    case gets the same numbers alone or with others."""
    one_hot = (decided[:, :, None] == np.arange(n_decisions)).astype(float)  # (B, C, D)
    hits = np.zeros((len(weights), answers.shape[1], n_answers, n_decisions))
    for a in range(n_answers):
        mask = (answers == a) * weights[:, :, None]  # (B, C, U)
        hits[:, :, a, :] = mask.transpose(0, 2, 1) @ one_hot
    shares = (weights[:, None, :] @ one_hot)[:, 0]  # (B, D)
    if n_decisions == 2:
        return np.minimum(shares[:, 1], 1.0 - shares[:, 1])[:, None] - hits.min(axis=3).sum(axis=2)
    return (1.0 - shares.max(axis=1))[:, None] - (hits.sum(axis=3) - hits.max(axis=3)).sum(axis=2)


def outlook(
    *,
    log_odds: np.ndarray,
    cutoffs: np.ndarray,
    tables: np.ndarray,
    answer_p: np.ndarray,
    class_p: np.ndarray,
    level: float,
    seed: int | list[int] = 0,
    samples: int = SAMPLES,
) -> Outlook:
    """The outlook of one case; see the module docstring.

    Parameters
    ----------
    log_odds : (O,) the case's log-odds per outcome now.
    cutoffs : (O,) the log-odds at which each outcome's threshold is reached (the decision is
        refer or not); or (O, T), each outcome's ascending cut-offs of the referral tiers (the
        decision is the tier, and settled means the unasked questions rarely change the tier).
    tables : (O, U, A) the change of each outcome's log-odds if unasked question ``u`` got
        answer ``a`` (0 for answers that are never evidence).
    answer_p : (K, U, A) ``P(answer | class)`` of each unasked question.
    class_p : (K,) the case's class posterior.
    level : the largest flip chance at which the decision is settled.
    seed : seeds the sampled completions (use the case's codes: same case, same outlook).
    """
    n_questions = tables.shape[1]
    if n_questions == 0:
        point = expit(np.asarray(log_odds, dtype=float))
        return Outlook(0.0, True, True, np.column_stack([point, point]), [], np.zeros(0))
    generator: list[np.random.Generator] = []

    def rng() -> np.random.Generator:  # seeded once, and only if completions are sampled
        if not generator:
            generator.append(np.random.default_rng(seed_entropy(seed)))
        return generator[0]

    positions = np.arange(n_questions)
    now = int(decisions_of(log_odds, cutoffs))
    draws = samples
    while True:
        answers, weights, exact = _completions(answer_p, class_p, rng=rng, samples=draws)
        completed = _completed(log_odds, tables, answers)  # (O, C)
        decided = decisions_of(completed, cutoffs)  # (C,)
        flip_chance = float(weights @ (decided != now))
        bound = flip_chance if exact else upper_bound(flip_chance * len(weights), len(weights))
        settled = bound < level
        if exact or settled or flip_chance >= level or draws > samples:
            break
        draws = samples + MORE_SAMPLES  # a close call: look again with more completions
    ranges = _weighted_percentiles(expit(completed), weights, RANGE)  # (O, 2)
    # How well would question u's answer alone foretell the final decision? Given answer a,
    # the best guess of the final decision is wrong for every completion but those of the
    # most common decision; the expected error left after asking u is the sum of those over
    # a, and its effect is how much it lowers the error of the best guess now. (With two
    # decisions the error of a guess is the smaller of the two shares.)
    n_decisions = 2 if cutoffs.ndim == 1 else cutoffs.shape[1] + 1
    effects = answer_effects(answers, weights[None], decided[None], n_answers=tables.shape[2], n_decisions=n_decisions)[
        0
    ]
    predictive = np.einsum("k,kua->ua", class_p, answer_p)
    movement = (predictive * np.abs(tables).max(axis=0)).sum(axis=1)
    order = np.lexsort((positions, -movement, -np.round(effects, 12))).tolist()
    return Outlook(flip_chance, settled, exact, ranges, order, effects)


# ------------------------------------------------------------------ rule 2: common draws, many cases at once
RULES: tuple[int, ...] = (1, 2)
"""The outlook rules there are. Every logged screening says which one it was given (``outlook_rule`` in
its result; absent means 1) and is recomputed with that one, so a rule is never changed, only added."""
RULE = 2
"""The rule new screenings get: :class:`CommonDraws`. Rule 1 is :func:`outlook` (draws seeded by the case)."""
FIRST_DRAWS = 512
"""Rule 2's completions for every case; a close call is looked at again with all :data:`DRAWS`."""
DRAWS = 2048
DRAW_SEED = 2026_12_01
"""Seeds rule 2's one set of draws, shared by every case: part of the rule, never to be changed."""
FEW_COMPLETIONS = 256
"""Rule 2 enumerates every completion (rule 1's exact branch) when there are at most this many."""
STAGE_CASES = 64
"""Cases whose completions are scored by the same products. A chunk's cases are neighbours in the order
of their class posteriors, so the completions of one class are nearly the same rows for all of them:
a product per class over the rows of any of them wastes little on the rows of none."""
WEIGHED_CASES = 256
"""Cases with as many questions left whose completions are enumerated together (four questions of four
answers: 256 completions each)."""
GRID = 2.0**-20
"""Rule 2 adds the answers' contributions on this grid of log-odds (a change below 1e-6), where every
sum is exact whatever its order: a case gets the same outlook alone, in a batch or in bulk."""


_SHARED: dict[str, CommonDraws] = {}
"""The latest :meth:`CommonDraws.shared`, by the digest of its inputs."""


@dataclass(frozen=True)
class _Draws:
    """One stage of rule 2's draws: ``v`` (N,) ascending and, per status level and class, the
    completions' answers one-hot but for each question's last answer (K, N, I * (A - 1): a completion
    that gives none of the others gives the last, so its counts are what the others leave), their
    running counts (K, N + 1, I * (A - 1): row ``n`` counts the answers of completions ``0`` to
    ``n - 1``) and contributions (K, N * O, I), rows in (completion, outcome) order."""

    v: np.ndarray
    answers: list[np.ndarray]
    running: list[np.ndarray]
    contributions: list[np.ndarray]


class CommonDraws:
    """Rule 2: a case's outlook from one set of completions drawn once per model, common to every case.

    It answers the question of :func:`outlook`, under the same predictive distribution, with a
    plain random sample of completions and the same 99.9% bound, but the draws are not seeded by
    the case: uniforms ``v`` (the class) and ``u`` (the answer to every question) are drawn once
    from :data:`DRAW_SEED`. A case's completion ``n`` takes the class in which ``v[n]`` falls in its
    class posterior, and the answers where ``u[n, i]`` falls in that class's answer distribution,
    as in rule 1. What depends on the draws alone is computed once per model, per status level and
    class: each completion's answer to every question and the contribution of that answer to each
    outcome. With ``v`` ascending, a case's completions of each class are one contiguous block, so
    its completions are scored by one matrix-vector product per class over the questions still to
    ask, and the counts behind the next question are one product of 0/1 matrices per class.

    With at most :data:`FEW_COMPLETIONS` completions (four questions of four answers left), every
    one is weighed instead, by rule 1's enumeration: the flip chance is exact. Otherwise a case is
    first looked at with :data:`FIRST_DRAWS` completions; a close call (not settled,
    but a flip chance below the level) again with :data:`DRAWS` others. The range of a probability
    is its 5th and 95th percentile over the completions (the ``ceil(q N)``-th smallest); the next
    questions rank as in rule 1, from whole counts of completions, so equal effects tie exactly.

    Parameters
    ----------
    tables : (O, I, A) each outcome's change of log-odds if indicator ``i`` got answer ``a``.
    answer_p : (S, K, I, A) ``P(answer | class)`` of each indicator, per status level.
    cutoffs : (O,) or (O, T), as for :func:`outlook`.
    level : the largest flip chance at which a decision is settled.
    first : the completions of the first look: rule 2's :data:`FIRST_DRAWS`. Another size is another
        rule, made only to measure what the first look's size does (``benchmarks/interview.py``), never
        to screen anyone.
    """

    def __init__(
        self, *, tables: np.ndarray, answer_p: np.ndarray, cutoffs: np.ndarray, level: float, first: int = FIRST_DRAWS
    ) -> None:
        _, n_questions, n_answers = tables.shape
        self.cutoffs = cutoffs
        self.level = level
        self.tables = tables
        self.answer_p = answer_p
        self.n_answers = n_answers
        self.n_decisions = 2 if cutoffs.ndim == 1 else cutoffs.shape[1] + 1
        self._one_hot = np.eye(self.n_decisions, dtype=np.float32)  # row d: decision d, one-hot
        # With at most this many questions left, there are at most FEW_COMPLETIONS completions: weigh them all.
        self._few_questions = 0
        while self._few_questions < n_questions and n_answers ** (self._few_questions + 1) <= FEW_COMPLETIONS:
            self._few_questions += 1
        # The expected movement of the log-odds by question is class_p @ movement[status]: per class, the
        # largest change over outcomes of each answer, weighted by its probability.
        self.movement = np.einsum("skia,ia->ski", answer_p, np.abs(tables).max(axis=0))  # (S, K, I)
        quantised = (np.round(tables / GRID) * GRID).reshape(len(tables), -1)  # (O, I * A)
        columns = np.arange(n_questions) * n_answers  # of each question's first answer in quantised
        generator = np.random.default_rng(DRAW_SEED)
        self._stages: list[_Draws] = []
        for n in (first, DRAWS):
            v = np.sort(generator.random(n))
            u = generator.random((n, n_questions))
            answers, running, contributions = [], [], []
            for p in answer_p:  # per status level: (K, I, A)
                cdf = np.cumsum(p, axis=2)
                drawn = np.zeros((len(p), n, n_questions), dtype=np.uint8)  # (K, N, I): how many cdf steps u passed
                for a in range(n_answers - 1):  # added one by one (a sum over a short last axis is slow in numpy)
                    drawn += (cdf[:, None, :, a] <= u[None, :, :]).view(np.uint8)
                picked = np.take(quantised, columns + drawn, axis=1)  # (O, K, N, I)
                hot = (drawn[..., None] == np.arange(n_answers - 1)).reshape(len(p), n, -1)  # the last: the rest
                answers.append(hot.astype(np.float32))
                running.append(np.pad(hot, ((0, 0), (1, 0), (0, 0))).cumsum(axis=1, dtype=np.uint16))
                contributions.append(
                    np.ascontiguousarray(picked.transpose(1, 2, 0, 3)).reshape(len(p), -1, n_questions)
                )
            self._stages.append(_Draws(v, answers, running, contributions))

    @classmethod
    def shared(cls, *, tables: np.ndarray, answer_p: np.ndarray, cutoffs: np.ndarray, level: float) -> CommonDraws:
        """The draws for these inputs, made once per process: they are a pure function of them (the seed is
        part of the rule), so a model loaded again (a reload of the same version, an API started again in
        the same process) takes the ones made before instead of making them again (0.15 to 0.25 s). Only
        the latest inputs' are kept (tens of MB); their arrays are read-only."""
        digest = hashlib.sha256(repr(float(level)).encode())
        for array in (tables, answer_p, cutoffs):
            digest.update(repr((array.shape, array.dtype.str)).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        key = digest.hexdigest()
        found = _SHARED.get(key)
        if found is None:
            found = cls(tables=tables.copy(), answer_p=answer_p.copy(), cutoffs=cutoffs.copy(), level=level)
            found._freeze()
            _SHARED.clear()
            _SHARED[key] = found
        return found

    def _freeze(self) -> None:
        arrays = [self.cutoffs, self.tables, self.answer_p, self.movement, self._one_hot]
        for stage in self._stages:
            arrays += [stage.v, *stage.answers, *stage.running, *stage.contributions]
        for array in arrays:
            array.flags.writeable = False

    def outlook(self, *, log_odds: np.ndarray, class_p: np.ndarray, unasked: np.ndarray, status: int) -> Outlook:
        """The outlook of one case: ``log_odds`` (O,) now, ``class_p`` (K,) its class posterior,
        ``unasked`` (I,) bool the questions still to ask, ``status`` its status level. ``order``
        and ``effects`` index the unasked questions in questionnaire order.

        It is :meth:`outlook_many` of one case, in fewer and smaller array operations (about twice as
        fast alone); ``tests/models/test_interview.py`` checks that the two agree exactly."""
        positions = np.flatnonzero(unasked)
        if len(positions) <= self._few_questions:
            return self._weighed(log_odds=log_odds, class_p=class_p, positions=positions, status=status)
        now = int(decisions_of(log_odds, self.cutoffs))
        mask = unasked.astype(float)
        width = len(log_odds)
        classes = range(len(class_p))
        cumulative = np.cumsum(class_p)[:-1]
        for draws in self._stages:
            n = len(draws.v)
            # Completions n in [edges[k], edges[k + 1]) are of class k (rule 1's "where v falls").
            edges = [0, *np.searchsorted(draws.v, cumulative, side="left").tolist(), n]
            contributions = draws.contributions[status]
            summed = np.concatenate(
                [contributions[k, edges[k] * width : edges[k + 1] * width] @ mask for k in classes]
            )  # exact: every term is on the grid
            completed = log_odds[None, :] + summed.reshape(n, width)  # (N, O)
            decided = decisions_of(completed.T, self.cutoffs)
            by_decision = np.bincount(decided, minlength=self.n_decisions)
            flips = n - int(by_decision[now])
            flip_chance = flips / n
            settled = upper_bound(flips, n) < self.level
            if settled or flip_chance >= self.level:
                break
        picks = _picks(n)
        ranges = expit(np.partition(completed, picks, axis=0)[picks].T)  # (O, 2)
        common = int(by_decision.max())
        if common == n:  # every completion decides alike: every answer's most common decision is that one
            best = np.full(len(positions), n)
        else:
            one_hot = self._one_hot[decided]  # (N, D)
            hot = draws.answers[status]
            counted = one_hot[edges[0] : edges[1]].T @ hot[0, edges[0] : edges[1]]
            for k in range(1, len(hot)):
                counted += one_hot[edges[k] : edges[k + 1]].T @ hot[k, edges[k] : edges[k + 1]]
            best = self._most_common(counted, by_decision)[positions]
        return self._view(n, flip_chance, settled, ranges, common, best, class_p @ self.movement[status], positions)

    def outlook_many(
        self,
        *,
        log_odds: np.ndarray,
        class_p: np.ndarray,
        unasked: np.ndarray,
        status: np.ndarray,
        ranges: bool = True,
    ) -> list[Outlook]:
        """The outlook of each of many cases, exactly as :meth:`outlook` gives it alone: ``log_odds``
        (B, O), ``class_p`` (B, K), ``unasked`` (B, I) bool, ``status`` (B,) status levels.

        The cases of a status level are taken :data:`STAGE_CASES` at a time, neighbours in the order of
        their class posteriors, and each stage's completions of all of them are scored by one matrix
        product per class. Every sum is on the grid (so exact in any order) and every count a whole
        number, so a case's outlook does not depend on the others in its batch. Cases with few enough
        completions to weigh them all are weighed together, up to :data:`WEIGHED_CASES` with as many
        questions left at once (:meth:`_weighed_many`: rule 1's enumeration, the same numbers).

        With ``ranges=False`` the outlooks of cases with questions left have no ranges (``ranges`` of
        shape (O, 0)) and are otherwise the same: bulk scoring, which records none, is spared their sort."""
        if len(log_odds) == 1:
            return [self.outlook(log_odds=log_odds[0], class_p=class_p[0], unasked=unasked[0], status=int(status[0]))]
        views: list[Outlook | None] = [None] * len(log_odds)

        def weighed(cases: np.ndarray, m: int, found: dict[str, np.ndarray]) -> None:
            if m == 0:
                for b in cases.tolist():  # nothing left to ask
                    views[b] = self._weighed(
                        log_odds=log_odds[b], class_p=class_p[b], positions=found["positions"][0], status=int(status[b])
                    )
                return
            keys = self._weighed_order(found["effects"], found["movement"])
            for j, b in enumerate(cases.tolist()):
                order = np.lexsort((np.arange(m), -keys[1][j], -keys[0][j])).tolist()
                flip = float(found["flip_chance"][j])
                views[b] = Outlook(flip, flip < self.level, True, found["ranges"][j], order, found["effects"][j])

        def sampled(finished: np.ndarray, n: int, found: dict[str, np.ndarray]) -> None:
            made = self._views(n, **found, unasked=unasked[finished])
            for b, view in zip(finished.tolist(), made, strict=True):
                views[b] = view

        self._walk(log_odds, class_p, unasked, status, weighed, sampled, ranges)
        return [view for view in views if view is not None]

    def outlook_columns(
        self, *, log_odds: np.ndarray, class_p: np.ndarray, unasked: np.ndarray, status: np.ndarray, top: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What bulk scoring records of :meth:`outlook_many` (without ranges), as arrays: each case's
        flip chance (B,), whether it is settled (B,), and its first ``top`` questions to ask (B, top),
        as positions in ``unasked``'s columns, -1 past its last.

        The same numbers and the same questions (``tests/models/test_interview.py``), without an
        :class:`Outlook` and a whole order of questions per case: a sampled case's first questions are
        picked for all its neighbours at once, by the same keys (effect, then movement, then
        questionnaire order)."""
        n_cases = len(log_odds)
        flip_chance, settled = np.zeros(n_cases), np.zeros(n_cases, dtype=bool)
        first = np.full((n_cases, top), -1, dtype=np.int64)

        def weighed(cases: np.ndarray, m: int, found: dict[str, np.ndarray]) -> None:
            flip = found.get("flip_chance", np.zeros(len(cases)))  # nothing left to ask: no flip
            flip_chance[cases], settled[cases] = flip, flip < self.level
            if m:
                among = _first_places(*self._weighed_order(found["effects"], found["movement"]), top=top)  # (B, top)
                positions = np.take_along_axis(found["positions"], np.maximum(among, 0), axis=1)
                first[cases] = np.where(among >= 0, positions, -1)

        # the sampled cases' keys, to pick their first questions all at once (not stage by stage)
        effects, movement = np.zeros(unasked.shape), np.zeros(unasked.shape)
        picked = np.zeros(n_cases, dtype=bool)

        def sampled(finished: np.ndarray, n: int, found: dict[str, np.ndarray]) -> None:
            flip_chance[finished], settled[finished] = found["flip_chance"], found["settled"]
            effects[finished] = _sampled_effects(n, found["common"], found["best"])
            movement[finished], picked[finished] = found["movement"], True

        self._walk(log_odds, class_p, unasked, status, weighed, sampled, ranges=False)
        first[picked] = _first_places(effects[picked], movement[picked], top=top, open=unasked[picked])
        return flip_chance, settled, first

    def _walk(
        self,
        log_odds: np.ndarray,
        class_p: np.ndarray,
        unasked: np.ndarray,
        status: np.ndarray,
        weighed: Callable[[np.ndarray, int, dict[str, np.ndarray]], None],
        sampled: Callable[[np.ndarray, int, dict[str, np.ndarray]], None],
        ranges: bool,
    ) -> None:
        """:meth:`outlook_many`'s work: what is found of the cases weighed goes to ``weighed(cases,
        questions left, found)`` (see :meth:`_weighed_many`), of the cases sampled to ``sampled(cases,
        completions, found)`` (see :meth:`_stage`)."""
        left = unasked.sum(axis=1)
        now = decisions_of(log_odds.T, self.cutoffs)  # (B,)
        few = np.flatnonzero(left <= self._few_questions)
        for m in np.unique(left[few]).tolist():
            group = few[left[few] == m]
            for begin in range(0, len(group), WEIGHED_CASES):
                self._weighed_many(
                    group[begin : begin + WEIGHED_CASES], m, weighed, log_odds, class_p, unasked, status, now, ranges
                )
        todo = np.flatnonzero(left > self._few_questions)
        todo = todo[np.lexsort(np.cumsum(class_p[todo], axis=1)[:, :-1].T[::-1])]  # neighbours share rows
        for stage, draws in enumerate(self._stages):
            last = stage == len(self._stages) - 1
            close_calls: list[np.ndarray] = []
            for s in np.unique(status[todo]).tolist():
                group = todo[status[todo] == s]
                for begin in range(0, len(group), STAGE_CASES):
                    chunk = group[begin : begin + STAGE_CASES]
                    close_calls.append(
                        self._stage(draws, s, chunk, sampled, log_odds, class_p, unasked, now, last, ranges)
                    )
            todo = np.concatenate(close_calls) if close_calls else todo[:0]

    def _stage(
        self,
        draws: _Draws,
        status: int,
        cases: np.ndarray,
        sampled: Callable[[np.ndarray, int, dict[str, np.ndarray]], None],
        log_odds: np.ndarray,
        class_p: np.ndarray,
        unasked: np.ndarray,
        now: np.ndarray,
        last: bool,
        ranges: bool,
    ) -> np.ndarray:
        """One stage's completions of ``cases`` (B, all of status level ``status``). What they find of
        the cases that they settle, or whose flip chance reaches the level, goes to ``sampled(finished,
        n, found)``: :meth:`_views`'s arguments but ``n`` and ``unasked``, by name. The close calls, left
        for the next stage, are returned (none after the ``last``)."""
        n, width, n_cases = len(draws.v), log_odds.shape[1], len(cases)
        mask = unasked[cases].T.astype(float)  # (I, B)
        # Completions n in [edges[b, k], edges[b, k + 1]) of case b are of class k (rule 1's "where v falls").
        inner = np.searchsorted(draws.v, np.cumsum(class_p[cases], axis=1)[:, :-1], side="left")  # (B, K - 1)
        edges = np.column_stack([np.zeros(n_cases, dtype=np.int64), inner, np.full(n_cases, n)])
        steps = np.zeros((n + 1, n_cases), dtype=np.int8)
        np.add.at(steps, (inner, np.arange(n_cases)[:, None]), 1)
        of_class = np.cumsum(steps[:n], axis=0, dtype=np.int8)  # (N, B): how many inner edges are at or below n
        # Per class, the rows of the completions of that class of any of the cases.
        spans = [(int(edges[:, k].min()), int(edges[:, k + 1].max())) for k in range(class_p.shape[1])]
        contributions = draws.contributions[status]
        summed = np.empty((n, width, n_cases))
        for k, (lo, hi) in enumerate(spans):
            if hi > lo:  # exact: every term is on the grid
                part = (contributions[k, lo * width : hi * width] @ mask).reshape(hi - lo, width, n_cases)
                np.copyto(summed[lo:hi], part, where=(of_class[lo:hi] == k)[:, None, :])
        completed = log_odds[cases].T[None, :, :] + summed  # (N, O, B)
        decided = decisions_of(completed.transpose(1, 0, 2), self.cutoffs, np.int8)  # (N, B)
        by_decision = np.bincount(
            (decided + self.n_decisions * np.arange(n_cases)).ravel(), minlength=n_cases * self.n_decisions
        ).reshape(n_cases, self.n_decisions)  # (B, D): completions by case and decision
        flips = n - by_decision[np.arange(n_cases), now[cases]]
        flip_chance = flips / n
        settled = upper_bounds(flips, n) < self.level
        done = settled | (flip_chance >= self.level) | last
        if not done.any():
            return cases
        finished = cases[done]
        decided, of_class = decided[:, done], of_class[:, done]
        if ranges:
            completed = completed[:, :, done]
            picks = _picks(n)
            spread = expit(np.partition(np.ascontiguousarray(completed.transpose(2, 1, 0)), picks, axis=2)[:, :, picks])
        else:
            spread = np.empty((len(finished), width, 0))
        # Whole counts of completions by (case, final decision, question and answer but the last). Of a case's
        # completions, those of each answer are two rows of the running counts per class; those of each
        # decision that is not the decision of now, and that some of them take, one product of 0/1 matrices
        # per class for all the cases; the decision of now has the rest.
        classes = np.arange(len(spans))
        running = draws.running[status]  # (K, N + 1, I * (A - 1))
        edged = edges[done]
        totals = (running[classes, edged[:, 1:]] - running[classes, edged[:, :-1]]).sum(axis=1, dtype=np.int64)
        other = by_decision[done] > 0
        other[np.arange(len(finished)), now[finished]] = False
        case, decision = np.nonzero(other)  # (P,): the pairs counted by the products
        counted = np.zeros((len(finished), self.n_decisions, totals.shape[1]), dtype=np.int64)
        if len(case):
            # (N, P): completion n's class and decision as one number (a byte), of each pair's case
            which = (decided + np.int8(self.n_decisions) * of_class)[:, case]
            found = np.zeros((len(case), totals.shape[1]), dtype=np.float32)
            for k, (lo, hi) in enumerate(spans):
                if hi > lo:  # this class's completions only, one-hot by the pair's case and decision
                    weights = (which[lo:hi] == (k * self.n_decisions + decision).astype(np.int8)).astype(np.float32)
                    found += weights.T @ draws.answers[status][k, lo:hi]
            counted[case, decision] = found  # whole numbers below 2**24: exact in float32
        counted[np.arange(len(finished)), now[finished]] = totals - counted.sum(axis=1)
        best = self._most_common(counted, by_decision[done])  # (B, I)
        common = by_decision[done].max(axis=1)
        moves = self._movements(class_p[finished], status)
        findings = {
            "flip_chance": flip_chance[done],
            "settled": settled[done],
            "ranges": spread,
            "common": common,
            "best": best,
            "movement": moves,
        }
        sampled(finished, n, findings)
        return cases[~done]

    def _weighed(self, *, log_odds: np.ndarray, class_p: np.ndarray, positions: np.ndarray, status: int) -> Outlook:
        """The outlook of a case with at most :data:`FEW_COMPLETIONS` completions left: every one is
        weighed, by rule 1's enumeration, so the flip chance is exact."""
        return outlook(
            log_odds=log_odds,
            cutoffs=self.cutoffs,
            tables=self.tables[:, positions],
            answer_p=self.answer_p[status][:, positions],
            class_p=class_p,
            level=self.level,
        )

    def _weighed_many(
        self,
        cases: np.ndarray,
        m: int,
        weighed: Callable[[np.ndarray, int, dict[str, np.ndarray]], None],
        log_odds: np.ndarray,
        class_p: np.ndarray,
        unasked: np.ndarray,
        status: np.ndarray,
        now: np.ndarray,
        ranges: bool,
    ) -> None:
        """:meth:`_weighed` of each of ``cases`` (each with ``m`` questions left), the same numbers, to
        ``weighed(cases, m, found)``: ``found`` holds the questions' ``positions`` (B, m) and of each
        case its ``flip_chance``, ``ranges``, ``effects`` and ``movement`` (B, m), the keys of
        :meth:`_weighed_order`. With nothing left (``m`` 0), only ``positions``.

        What rule 1's enumeration does elementwise, or adds in an order that does not depend on the
        shape (the completions' weights by class, their log-odds, decisions, the ranges' sort and
        running sums, by rule 1's own :func:`_weighted_percentiles`), is done for all the cases at
        once. Its BLAS products (the weights over classes, the flip chance, and :func:`answer_effects`,
        rule 1's own) are stacked matmuls, which numpy makes slice by slice with the very call it makes
        for one case alone (the same shapes and strides); the expected movement is
        :func:`_weighed_movements`. ``tests/models/test_interview.py`` holds every number to rule 1's."""
        positions = np.nonzero(unasked[cases])[1].reshape(len(cases), m)  # (B, m), questionnaire order
        if m == 0:
            weighed(cases, m, {"positions": positions})  # nothing left to ask
            return
        n_answers, n_classes = self.n_answers, class_p.shape[1]
        grid = np.indices((n_answers,) * m).reshape(m, -1).T  # (C, m): rule 1's completions, in its order
        # (B, K, m, A): each case's answer_p[status][:, positions]
        answer_p = self.answer_p[
            status[cases][:, None, None], np.arange(n_classes)[None, :, None], positions[:, None, :]
        ]
        per_class = np.prod(answer_p[:, :, np.arange(m)[None, :], grid], axis=3)  # (B, K, C)
        # (O, B, C): each completion's contributions added question after question, as in _completed, in rule
        # 1's order of completions (the first question's answer the most significant): each question's answers
        # added to every sum of the questions before it, the same additions, without gathering (O, B, m, C)
        summed = self.tables[:, positions[:, 0]]  # (O, B, A)
        for j in range(1, m):
            summed = (summed[..., None] + self.tables[:, positions[:, j], None, :]).reshape(*summed.shape[:2], -1)
        completed = log_odds[cases].T[:, :, None] + summed  # (O, B, C)
        decided = decisions_of(completed, self.cutoffs)  # (B, C)
        # Rule 1's products, stacked: numpy's matmul makes for every case the BLAS call (dot, gemv or
        # gemm, with the same shapes and strides) that it makes for that case alone.
        weights = (class_p[cases][:, None, :] @ per_class)[:, 0]  # (B, C): class_p @ per_class
        flip_chance = (weights[:, None, :] @ (decided != now[cases][:, None])[:, :, None].astype(float))[:, 0, 0]
        if ranges:
            spread = _weighted_percentiles(expit(completed), weights, RANGE).transpose(1, 0, 2)  # (B, O, P)
        else:
            spread = np.empty((len(cases), completed.shape[0], 0))
        effects = answer_effects(grid, weights, decided, n_answers=n_answers, n_decisions=self.n_decisions)
        movement = _weighed_movements(class_p[cases], answer_p, np.abs(self.tables[:, positions]).max(axis=0))
        found = {
            "positions": positions,
            "flip_chance": flip_chance,
            "ranges": spread,
            "effects": effects,
            "movement": movement,
        }
        weighed(cases, m, found)

    def _movements(self, class_p: np.ndarray, status: int) -> np.ndarray:
        """(B, I) the expected movement by question of B cases of one status level, each exactly as
        :meth:`outlook` computes it alone (``class_p[b] @ movement``): numpy's stacked matmul makes for every
        case the gemv it makes for that case alone, where one product of many rows at once (a gemm) may
        round differently."""
        return (class_p[:, None, :] @ self.movement[status])[:, 0]

    @staticmethod
    def _weighed_order(effects: np.ndarray, movement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rule 1's keys of the order of a weighed case's questions (..., m), each the larger first:
        its effect to 12 decimals (sums of weights: equal effects may differ in the last bits), then
        its movement."""
        return np.round(effects, 12), movement

    def _most_common(self, counted: np.ndarray, by_decision: np.ndarray) -> np.ndarray:
        """(..., I) from counts (..., D, I * (A - 1)) of completions by (decision, question and answer but
        the last) and (..., D) by decision: how many share the most common decision of each answer, summed
        over a question's answers (of the last, what each decision's completions leave to it). Whole
        numbers below 2**24, so exact in float32."""
        counted = np.asarray(counted, dtype=np.int64).reshape(*counted.shape[:-1], -1, self.n_answers - 1)
        # each answer's (..., D, I), added one to another: a reduction over a short last axis is slow in numpy
        answers = [counted[..., a] for a in range(self.n_answers - 1)]
        last = by_decision[..., None] - sum(answers[1:], answers[0])
        return sum((c.max(axis=-2) for c in answers[1:]), answers[0].max(axis=-2)) + last.max(axis=-2)

    def _views(
        self,
        n: int,
        flip_chance: np.ndarray,
        settled: np.ndarray,
        ranges: np.ndarray,
        common: np.ndarray,
        best: np.ndarray,
        movement: np.ndarray,
        unasked: np.ndarray,
    ) -> list[Outlook]:
        """The sampled outlooks of B cases from their ``n`` completions each: ``common`` (B,) of them share
        the most common decision, and ``best`` (B, I) of them the most common decision of each answer
        of each question, summed over its answers; ``movement`` (B, I) is the expected change of the
        log-odds by question, ``unasked`` (B, I) the questions still to ask and ``ranges`` (B, O, P)
        the ranges.

        As in rule 1, a question's effect is how much its answer lowers the chance of guessing the
        final decision wrongly: the best guess now is wrong for all but the ``common`` completions,
        once the question is answered for all but its ``best``. The unasked questions of all the cases
        are ranked by one sort, case by case."""
        case, question = np.nonzero(unasked)  # case by case, in questionnaire order
        effects = _sampled_effects(n, common, best)[case, question]
        ranked = np.lexsort((question, -movement[case, question], -effects, case))
        starts = np.searchsorted(case, np.arange(len(unasked) + 1))
        order = (ranked - starts[case[ranked]]).tolist()  # positions among the case's unasked questions
        bounds = starts.tolist()
        return [
            Outlook(flip, sure, False, ranges[j], order[bounds[j] : bounds[j + 1]], effects[bounds[j] : bounds[j + 1]])
            for j, (flip, sure) in enumerate(zip(flip_chance.tolist(), settled.tolist(), strict=True))
        ]

    def _view(
        self,
        n: int,
        flip_chance: float,
        settled: bool,
        ranges: np.ndarray,
        common: int,
        best: np.ndarray,
        movement: np.ndarray,
        positions: np.ndarray,
    ) -> Outlook:
        """:meth:`_views` of one case, in fewer and smaller array operations: ``best`` (U,) and
        ``movement`` (I,), the unasked questions at ``positions`` (U,)."""
        effects = np.asarray(((n - common) - (n - best)) / n)
        order = np.lexsort((np.arange(len(positions)), -movement[positions], -effects)).tolist()
        return Outlook(flip_chance, settled, False, ranges, order, effects)


def _weighed_movements(class_p: np.ndarray, answer_p: np.ndarray, largest: np.ndarray) -> np.ndarray:
    """(B, m) the expected movement by question of B cases with ``m`` questions left, each exactly as rule 1
    computes it alone (:func:`outlook`: an einsum of ``class_p`` (K,) and ``answer_p`` (K, m, A), times the
    largest change of each answer (m, A), summed over answers): numpy's einsum adds each case's classes in
    their order, stacked or not, and each row of four answers is summed alone."""
    return (np.einsum("bk,bkua->bua", class_p, answer_p) * largest).sum(axis=2)


def _sampled_effects(n: int, common: np.ndarray, best: np.ndarray) -> np.ndarray:
    """(B, I) each question's effect from ``n`` completions (see :meth:`CommonDraws._views`): the best
    guess now is wrong for all but ``common`` (B,) of them, once the question is answered for all but
    its ``best`` (B, I). Whole counts over ``n``: equal effects are equal."""
    return ((n - common)[:, None] - (n - best)) / n


def _first_places(effect: np.ndarray, movement: np.ndarray, *, top: int, open: np.ndarray | None = None) -> np.ndarray:
    """The first ``top`` columns of each row (B, top) in the order of the largest ``effect``, then the
    largest ``movement`` among those, then the first column (-1 past the last): what a stable sort of a
    row's columns by those keys puts first, picked for all rows at once. Only ``open`` columns
    (B, Q) are picked (all when None).

    The rows are taken as columns (Q, B): each pick's maxima are then Q - 1 elementwise operations over
    all the rows, not a short reduction per row."""
    n_rows, n_columns = effect.shape
    rows = np.arange(n_rows)
    keyed = effect.T.copy()  # its own, to be marked: -inf where closed or picked
    if open is not None:
        keyed[~open.T] = -np.inf
    moves = np.ascontiguousarray(movement.T)
    from_end = np.arange(n_columns, 0, -1)[:, None]  # the first of tied columns has the largest
    first = np.full((n_rows, top), -1, dtype=np.int64)
    for place in range(top):
        best = keyed.max(axis=0, initial=-np.inf)
        tied = keyed == best
        moved = np.where(tied, moves, -np.inf)
        tied &= moved == moved.max(axis=0, initial=-np.inf)
        column = n_columns - (tied * from_end).max(axis=0, initial=0)
        picked = best > -np.inf  # a column left to pick
        first[picked, place] = column[picked]
        keyed[column[picked], rows[picked]] = -np.inf
    return first


def _picks(n: int) -> list[int]:
    """Where the :data:`RANGE` percentiles are among ``n`` sorted completions (the ``ceil(q n)``-th smallest)."""
    return [max(0, math.ceil(q / 100.0 * n) - 1) for q in RANGE]
