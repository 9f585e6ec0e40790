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

import math
from collections.abc import Callable
from dataclasses import dataclass

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
    p = flips / n
    z2 = _Z * _Z
    centre = p + z2 / (2 * n)
    spread = _Z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return float(min(1.0, (centre + spread) / (1 + z2 / n)))


def decisions_of(log_odds: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """The decision of each completion; ``log_odds`` is (O, ...).

    With ``cutoffs`` of shape (O,): refer (1) when any outcome's log-odds reaches its cut-off,
    else 0. With ``cutoffs`` of shape (O, T), ascending along T (the referral tiers' cut-offs):
    the highest tier over outcomes, 0 to T, each outcome's tier being how many of its cut-offs
    its log-odds reaches.
    """
    if cutoffs.ndim == 1:
        return np.any(log_odds >= cutoffs.reshape((-1,) + (1,) * (log_odds.ndim - 1)), axis=0).astype(np.int64)
    shape = cutoffs.shape + (1,) * (log_odds.ndim - 1)
    reached = (log_odds[:, None, ...] >= cutoffs.reshape(shape)).sum(axis=1)
    return np.asarray(reached.max(axis=0), dtype=np.int64)


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
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    picks = np.searchsorted(cumulative, np.asarray(percentiles) / 100.0 - 1e-12, side="left")
    return values[order][np.minimum(picks, len(values) - 1)]


def answer_effects(
    answers: np.ndarray, weights: np.ndarray, decided: np.ndarray, *, n_answers: int, n_decisions: int
) -> np.ndarray:
    """How much each unasked question's answer is expected to lower the error of guessing the
    final decision now, (U,), from completions ``answers`` (C, U) with ``weights`` (C,) and
    their decisions ``decided`` (C,). See :func:`outlook`."""
    one_hot = (decided[:, None] == np.arange(n_decisions)[None, :]).astype(float)  # (C, D)
    hits = np.zeros((answers.shape[1], n_answers, n_decisions))
    for a in range(n_answers):
        mask = (answers == a) * weights[:, None]  # (C, U)
        hits[:, a, :] = mask.T @ one_hot
    shares = weights @ one_hot
    if n_decisions == 2:
        return np.asarray(min(float(shares[1]), 1.0 - float(shares[1])) - hits.min(axis=2).sum(axis=1))
    return np.asarray((1.0 - float(shares.max())) - (hits.sum(axis=2) - hits.max(axis=2)).sum(axis=1))


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
    n_outcomes = len(log_odds)
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
    ranges = np.vstack(
        [_weighted_percentiles(expit(completed[o]), weights, RANGE) for o in range(n_outcomes)]
    )  # (O, 2)
    # How well would question u's answer alone foretell the final decision? Given answer a,
    # the best guess of the final decision is wrong for every completion but those of the
    # most common decision; the expected error left after asking u is the sum of those over
    # a, and its effect is how much it lowers the error of the best guess now. (With two
    # decisions the error of a guess is the smaller of the two shares.)
    n_decisions = 2 if cutoffs.ndim == 1 else cutoffs.shape[1] + 1
    effects = answer_effects(answers, weights, decided, n_answers=tables.shape[2], n_decisions=n_decisions)
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
GRID = 2.0**-20
"""Rule 2 adds the answers' contributions on this grid of log-odds (a change below 1e-6), where every
sum is exact whatever its order: a case gets the same outlook alone, in a batch or in bulk."""


@dataclass(frozen=True)
class _Draws:
    """One stage of rule 2's draws: ``v`` (N,) ascending and, per status level and class, the
    completions' answers one-hot (K, N, I * A) and contributions (K, N * O, I), rows in (completion,
    outcome) order."""

    v: np.ndarray
    answers: list[np.ndarray]
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
    """

    def __init__(self, *, tables: np.ndarray, answer_p: np.ndarray, cutoffs: np.ndarray, level: float) -> None:
        _, n_questions, n_answers = tables.shape
        self.cutoffs = cutoffs
        self.level = level
        self.tables = tables
        self.answer_p = answer_p
        self.n_answers = n_answers
        self.n_decisions = 2 if cutoffs.ndim == 1 else cutoffs.shape[1] + 1
        self._one_hot = np.eye(self.n_decisions, dtype=np.float32)  # row d: decision d, one-hot
        # The expected movement of the log-odds by question is class_p @ movement[status]: per class, the
        # largest change over outcomes of each answer, weighted by its probability.
        self.movement = np.einsum("skia,ia->ski", answer_p, np.abs(tables).max(axis=0))  # (S, K, I)
        quantised = np.round(tables / GRID) * GRID
        generator = np.random.default_rng(DRAW_SEED)
        self._stages: list[_Draws] = []
        for n in (FIRST_DRAWS, DRAWS):
            v = np.sort(generator.random(n))
            u = generator.random((n, n_questions))
            answers, contributions = [], []
            for p in answer_p:  # per status level: (K, I, A)
                cdf = np.cumsum(p, axis=2)
                drawn = (cdf[:, None, :, : n_answers - 1] <= u[None, :, :, None]).sum(axis=3).astype(np.uint8)
                picked = quantised[:, np.arange(n_questions)[None, None, :], drawn]  # (O, K, N, I)
                answers.append((drawn[..., None] == np.arange(n_answers)).reshape(len(p), n, -1).astype(np.float32))
                contributions.append(
                    np.ascontiguousarray(picked.transpose(1, 2, 0, 3)).reshape(len(p), -1, n_questions)
                )
            self._stages.append(_Draws(v, answers, contributions))

    def outlook(self, *, log_odds: np.ndarray, class_p: np.ndarray, unasked: np.ndarray, status: int) -> Outlook:
        """The outlook of one case: ``log_odds`` (O,) now, ``class_p`` (K,) its class posterior,
        ``unasked`` (I,) bool the questions still to ask, ``status`` its status level. ``order``
        and ``effects`` index the unasked questions in questionnaire order."""
        positions = np.flatnonzero(unasked)
        if self.n_answers ** len(positions) <= FEW_COMPLETIONS:  # nothing left, or few enough to weigh them all
            return outlook(
                log_odds=log_odds,
                cutoffs=self.cutoffs,
                tables=self.tables[:, positions],
                answer_p=self.answer_p[status][:, positions],
                class_p=class_p,
                level=self.level,
            )
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
        picks = [max(0, math.ceil(q / 100.0 * n) - 1) for q in RANGE]
        ranges = expit(np.partition(completed, picks, axis=0)[picks].T)  # (O, 2)
        common = int(by_decision.max())
        if common == n:
            effects = np.zeros(len(positions))  # every completion decides alike: no answer foretells more
        else:
            effects = self._effects(decided, common, draws.answers[status], edges, positions)
        movement = (class_p @ self.movement[status])[positions]
        order = np.lexsort((np.arange(len(positions)), -movement, -effects)).tolist()
        return Outlook(flip_chance, settled, False, ranges, order, effects)

    def _effects(
        self, decided: np.ndarray, common: int, hot: np.ndarray, edges: list[int], positions: np.ndarray
    ) -> np.ndarray:
        """As in rule 1: how much each unasked question's answer lowers the chance of guessing the final
        decision wrongly, from whole counts of completions by (question, answer, final decision): one
        product per class block (contiguous rows, so BLAS; 0/1 entries, so whole numbers).

        ``common`` is how many completions share the most common decision: guessing it now is wrong for
        the others. Once question u is answered, the best guess is wrong for all but the most common
        decision of each answer (the completions of all answers of u together are all of them)."""
        n = len(decided)
        one_hot = self._one_hot[decided]  # (N, D)
        counted = one_hot[edges[0] : edges[1]].T @ hot[0, edges[0] : edges[1]]
        for k in range(1, len(hot)):
            counted += one_hot[edges[k] : edges[k + 1]].T @ hot[k, edges[k] : edges[k + 1]]
        # Whole numbers below 2**24, so exact in float32: the most common decision's count of each (u, a).
        best = counted.max(axis=0).reshape(-1, self.n_answers).sum(axis=1)[positions].astype(np.int64)
        before = n - common
        after = n - best
        return np.asarray((before - after) / n)
