"""Synthetic screened population with known truth and exact ground-truth probabilities.

The population model is data: ``data/synthetic/population.yaml`` (prevalences, mixes,
effect sizes, missingness, interview forms, scenarios). This module reads it, draws people
from it and computes for every row the exact posterior ``p_labour``/``p_sexual`` of the true
outcome given all recorded fields. The generative model (one group = one case; rows of a
group are repeat screenings of it):

1. ``migrant_status`` -> ``gender`` -> truth ``T`` in {none, labour, sexual, both};
2. every other context and audit field drawn from its mix for (status, gender), tilted by
   ``T``; then each recorded as "unknown" at a fixed rate, independent of value and truth;
3. an answering style ``W`` (open or guarded; depends on ``T``) and one binary latent factor
   ``Z_d`` per Delphi dimension (independent of ``T``, it correlates the dimension's answers);
4. per screening, the interview: a form (full, short form, interrupted, random skips) drawn
   from the status's mix, and from it the set ``A`` of questions put. It depends on the
   status and the form only (never on ``T`` or the answers); questions that do not apply to
   the status are never put. Questions outside ``A`` are ``not_asked``;
5. each asked indicator's answer, independently given (``T``, ``W``, ``Z``, status):
   declined with rate ``delta[W]``, else ``dont_know`` with rate ``u[T, status, stage]``,
   else yes with ``q[T, Z_d, indicator]``. Null indicators are drawn independently of
   everything.

The posterior sums out ``W``, the ``Z_d`` and an unrecorded gender exactly (2 x 2^6 x 3
terms, factorised). A ``not_asked`` indicator has no factor in the likelihood (summed over
its answers it is 1), and since ``A`` is independent of ``T`` given the context, ``p`` is
the Bayes-optimal score given the row's fields for every partial interview. Observed labels
equal the truth unless a scenario makes identification depend on gender.
:func:`mask_interviews` cuts interviews shorter after the fact, keeping that property.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, ValidationError

from models.questionnaire import (
    ANSWERS,
    NOT_ASKED,
    OUTCOMES,
    STATUS_FIELD,
    STRENGTHS,
    UNKNOWN,
    Field,
    load_questionnaire,
    load_yaml,
)
from pipeline.data.columns import (
    GROUP_COLUMN,
    LABEL_COLUMNS,
    PROBABILITY_COLUMNS,
    TRUTH_COLUMNS,
    YEAR_COLUMN,
    canonical_order,
)
from pipeline.data.schema import export_ctdc_v2024, validate_frame, write_frame

__all__ = [
    "TRUTHS",
    "PopulationModel",
    "default_config_path",
    "export_ctdc_v2024",
    "generate",
    "load_population",
    "mask_interviews",
    "scenario_names",
    "true_probabilities",
    "write_frame",
]

TRUTHS: tuple[str, ...] = ("none", "labour", "sexual", "both")
GENDER_FIELD = "gender"
YES, NO, DONT_KNOW, DECLINED, NOT_ASKED_CODE = (
    ANSWERS.index(a) for a in ("yes", "no", "dont_know", "declined", "not_asked")
)  # answer codes: the drawing and the lookup tables rely on this order
N_CODES = len(ANSWERS)
FORMS: tuple[str, ...] = ("full", "short_form", "interrupted", "random_skips")
CHUNK_ROWS = 100_000
MAX_YES_RATE = 0.95

UNKNOWN_SCENARIO = "unknown scenario {name!r}: allowed scenarios are {allowed}"
BAD_ROWS = "rows must be a whole number of at least 1, not {rows!r}"
CONFIG_MISSING = "population config {path!r} does not exist: pass config_path, or run from a Tarozu checkout"
CONFIG_INVALID = "population config {path!r}: {problem}"
BAD_KEYS = "{where}: {keys} not allowed; allowed are {allowed}"
MISSING_KEYS = "{where}: missing {keys}"
BAD_RATE = "{where}: {value!r} must be a probability from 0 to below 1"
BAD_SHARE = "context_unrecorded must be a share from 0 to 1, not {value!r}"
BAD_WEIGHT = "{where}: weights must be non-negative numbers with a positive sum"
BAD_POSITIVE = "{where}: {value!r} must be a positive number"
BAD_YEARS = "years: first ({first}) comes after last ({last})"
UNMASKABLE = "cannot hide {fields}: only indicators and these context and audit fields can be left out: {allowed}"
BAD_ASKED_RANGE = "{where}: min_asked ({low}) must be at least 0 and at most max_asked ({high})"
EMPTY_SHORT_FORM = "interviews.short_form: list at least one indicator, each once"
BAD_MASK_RANGE = "mask_interviews: min_asked ({low}) must be at least 0 and at most max_asked ({high})"
STATUS_REQUIRED = "migrant_status is 'unknown' in {count} row(s): the model needs it to compute probabilities"
YES_RATE_TOO_HIGH = (
    "indicators.{indicator}: P(yes) reaches {value:.3f} (truth {truth}, dimension factor on); "
    "lower its base rate, likelihood ratio or the dimension factor so it stays below {limit}"
)


class PopulationConfigError(ValueError):
    """A population config that does not fit the questionnaire or is not a valid model."""


# --------------------------------------------------------------------------- config file


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


MixSpec = dict[str, float | dict[str, float | dict[str, float]]]


class ContextSpec(_Strict):
    mix: MixSpec
    tilt: dict[str, dict[str, float]] = {}


class IndicatorOverride(_Strict):
    base_rate: float | None = None
    lr_labour: float | None = None
    lr_sexual: float | None = None


class DimensionFactor(_Strict):
    share: float
    multiplier: float


class IndicatorSpec(_Strict):
    base_rate: dict[str, float]
    likelihood_ratio: dict[str, float]
    overrides: dict[str, IndicatorOverride] = {}
    null_indicators: list[str] = []
    dimension_factor: DimensionFactor


class Declined(_Strict):
    open: float
    guarded: float


class NullAnswers(_Strict):
    declined: float
    dont_know: float
    yes: float


class AnswerSpec(_Strict):
    guarded_share: dict[str, float]
    declined: Declined
    dont_know: dict[str, dict[str, float]]
    victim_dont_know_odds_ratio: float
    null_indicator: NullAnswers


class Interrupted(_Strict):
    min_asked: int
    max_asked: int


class RandomSkips(_Strict):
    rate: float


FormMix = dict[str, float | dict[str, float]]


class InterviewSpec(_Strict):
    forms: FormMix
    short_form: list[str]
    interrupted: Interrupted
    random_skips: RandomSkips


class Years(_Strict):
    first: int
    last: int


class MissingnessScale(_Strict):
    declined: float = 1.0
    dont_know_odds: float = 1.0
    context_unknown: float = 1.0


class Scenario(_Strict):
    description: str
    identification: dict[str, dict[str, float]] | None = None
    context_mix: dict[str, MixSpec] | None = None
    missingness_scale: MissingnessScale | None = None
    interview_forms: FormMix | None = None
    homogeneous: bool = False


class PopulationConfig(_Strict):
    """The parsed ``population.yaml`` (see the comments in that file)."""

    version: int
    migrant_status: dict[str, float]
    gender: dict[str, dict[str, float]]
    truth: dict[str, dict[str, dict[str, float]]]
    context: dict[str, ContextSpec]
    unknown_rate: dict[str, float]
    indicators: IndicatorSpec
    interviews: InterviewSpec
    answers: AnswerSpec
    identification: dict[str, dict[str, float]]
    repeat_screenings: dict[int, float]
    years: Years
    scenarios: dict[str, Scenario]


# --------------------------------------------------------------------------- compiled model


@dataclass(frozen=True)
class PopulationModel:
    """The population model as arrays; axes are (S)tatus, (G)ender, (T)ruth, (K) levels.

    Attributes
    ----------
    scenario : scenario name.
    statuses, genders : levels of migrant_status and gender, "unknown" excluded.
    status_p : (S,) P(status). gender_p : (S, G) P(gender | status).
    truth_p : (S, G, T) P(truth | status, gender), truths in :data:`TRUTHS` order.
    context_ids : the other context and audit fields, in questionnaire order.
    context_levels : their levels, "unknown" excluded.
    context_p : per field, (S, G, T, K) P(level | status, gender, truth).
    unknown_rate : per field id (gender included), P(recorded as unknown).
    indicator_ids : all indicators; null_mask : (I,) True for null indicators.
    dimensions, stages : dimension ids and stage names; dim_index, stage_index : (I,).
    yes_p : (T, 2, I) P(yes | answered, truth, dimension factor off/on).
    factor_share : P(Z_d = 1).
    guarded_p : (T,) P(guarded | truth). declined_p : (2,) P(declined | asked, open, guarded).
    dont_know_p : (T, S, stages) P(dont_know | asked, not declined, truth, status, stage).
    null_rates : (declined, dont_know, yes) of null indicators when asked.
    applicable : (S, I) True where the indicator is put to people of the status.
    form_p : (S, F) P(interview form | status), forms in :data:`FORMS` order.
    short_form : (I,) True for the short form's indicators.
    interrupted_range : (min, max) number of applicable questions of an interrupted interview.
    skip_rate : P(an applicable question is skipped) in a random-skips interview.
    identification : (2, G) P(label observed | true outcome, gender), outcomes labour, sexual.
    group_sizes, group_p : repeat-screening group sizes and their probabilities.
    years : first and last year.
    """

    scenario: str
    statuses: tuple[str, ...]
    genders: tuple[str, ...]
    status_p: np.ndarray
    gender_p: np.ndarray
    truth_p: np.ndarray
    context_ids: tuple[str, ...]
    context_levels: tuple[tuple[str, ...], ...]
    context_p: tuple[np.ndarray, ...]
    unknown_rate: Mapping[str, float]
    indicator_ids: tuple[str, ...]
    null_mask: np.ndarray
    dimensions: tuple[str, ...]
    stages: tuple[str, ...]
    dim_index: np.ndarray
    stage_index: np.ndarray
    yes_p: np.ndarray
    factor_share: float
    guarded_p: np.ndarray
    declined_p: np.ndarray
    dont_know_p: np.ndarray
    null_rates: tuple[float, float, float]
    applicable: np.ndarray
    form_p: np.ndarray
    short_form: np.ndarray
    interrupted_range: tuple[int, int]
    skip_rate: float
    identification: np.ndarray
    group_sizes: np.ndarray
    group_p: np.ndarray
    years: tuple[int, int]


def default_config_path() -> Path:
    """``data/synthetic/population.yaml`` of the source checkout this module lives in."""
    return Path(__file__).resolve().parents[2] / "data" / "synthetic" / "population.yaml"


def _read_config(config_path: str | Path | None) -> tuple[PopulationConfig, Path]:
    path = Path(config_path) if config_path is not None else default_config_path()
    if not path.is_file():
        raise PopulationConfigError(CONFIG_MISSING.format(path=str(path)))
    raw = load_yaml(path.read_text(encoding="utf-8"))
    try:
        return PopulationConfig.model_validate(raw), path
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        problem = f"{where}: {first['msg']}" + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")
        raise PopulationConfigError(CONFIG_INVALID.format(path=str(path), problem=problem)) from None


def scenario_names(config_path: str | Path | None = None) -> list[str]:
    """Scenario names declared in the population config."""
    config, _ = _read_config(config_path)
    return list(config.scenarios)


def _levels(f: Field) -> tuple[str, ...]:
    return tuple(level for level in f.levels if level != UNKNOWN)


def _check_keys(keys: Any, allowed: tuple[str, ...] | list[str], *, where: str, complete: bool) -> None:
    keys = [str(k) for k in keys]
    extra = [k for k in keys if k not in allowed]
    if extra:
        raise PopulationConfigError(BAD_KEYS.format(where=where, keys=extra, allowed=list(allowed)))
    missing = [k for k in allowed if k not in keys]
    if complete and missing:
        raise PopulationConfigError(MISSING_KEYS.format(where=where, keys=missing))


def _rate(value: float, *, where: str) -> float:
    if not 0.0 <= value < 1.0:
        raise PopulationConfigError(BAD_RATE.format(where=where, value=value))
    return float(value)


def _positive(value: float, *, where: str) -> float:
    if not value > 0.0:
        raise PopulationConfigError(BAD_POSITIVE.format(where=where, value=value))
    return float(value)


def _weights(spec: Mapping[str, Any], levels: tuple[str, ...], *, where: str) -> np.ndarray:
    _check_keys(spec, levels, where=where, complete=False)
    values = [spec.get(level, 0.0) for level in levels]
    if any(not isinstance(v, float | int) for v in values):
        raise PopulationConfigError(BAD_WEIGHT.format(where=where))
    out = np.array(values, dtype=float)
    if (out < 0).any() or out.sum() <= 0:
        raise PopulationConfigError(BAD_WEIGHT.format(where=where))
    return out / out.sum()


def _mix(
    spec: Mapping[str, Any],
    levels: tuple[str, ...],
    statuses: tuple[str, ...],
    genders: tuple[str, ...],
    where: str,
) -> np.ndarray:
    """(S, G, K) distribution from a mix given for all, per status, or per status and gender."""

    def per_gender(sub: Mapping[str, Any], where: str) -> np.ndarray:
        if sub and set(sub) <= set(genders):
            _check_keys(sub, genders, where=where, complete=True)
            return np.stack([_weights(sub[g], levels, where=f"{where}.{g}") for g in genders])
        return np.broadcast_to(_weights(sub, levels, where=where), (len(genders), len(levels)))

    if spec and set(spec) <= set(statuses):
        _check_keys(spec, statuses, where=where, complete=True)
        return np.stack([per_gender(spec[s], f"{where}.{s}") for s in statuses])
    return np.broadcast_to(per_gender(spec, where), (len(statuses), len(genders), len(levels))).copy()


def _compile(config: PopulationConfig, scenario: str) -> PopulationModel:
    q = load_questionnaire()
    chosen = config.scenarios[scenario]
    scale = chosen.missingness_scale or MissingnessScale()

    statuses = _levels(q.field(STATUS_FIELD))
    genders = _levels(q.field(GENDER_FIELD))
    _check_keys(config.migrant_status, statuses, where="migrant_status", complete=True)
    status_p = _weights(config.migrant_status, statuses, where="migrant_status")
    _check_keys(config.gender, statuses, where="gender", complete=True)
    gender_p = np.stack([_weights(config.gender[s], genders, where=f"gender.{s}") for s in statuses])

    truth_p = np.zeros((len(statuses), len(genders), len(TRUTHS)))
    _check_keys(config.truth, statuses, where="truth", complete=True)
    for i, s in enumerate(statuses):
        _check_keys(config.truth[s], genders, where=f"truth.{s}", complete=True)
        for j, g in enumerate(genders):
            cell = config.truth[s][g]
            _check_keys(cell, TRUTHS[1:], where=f"truth.{s}.{g}", complete=True)
            victims = [_rate(cell[t], where=f"truth.{s}.{g}.{t}") for t in TRUTHS[1:]]
            truth_p[i, j] = [1.0 - sum(victims), *victims]
            if truth_p[i, j, 0] <= 0:
                raise PopulationConfigError(BAD_RATE.format(where=f"truth.{s}.{g}", value=sum(victims)))

    context_fields = [f for f in q.context + q.monitoring if f.id not in (STATUS_FIELD, GENDER_FIELD)]
    context_ids = tuple(f.id for f in context_fields)
    _check_keys(config.context, context_ids, where="context", complete=True)
    _check_keys(chosen.context_mix or {}, context_ids, where=f"scenarios.{scenario}.context_mix", complete=False)
    context_p = []
    for f in context_fields:
        levels = _levels(f)
        spec = config.context[f.id]
        mix_spec = (chosen.context_mix or {}).get(f.id, spec.mix)
        mix = _mix(mix_spec, levels, statuses, genders, where=f"context.{f.id}.mix")
        _check_keys(spec.tilt, OUTCOMES, where=f"context.{f.id}.tilt", complete=False)
        tilt = {o: np.ones(len(levels)) for o in OUTCOMES}
        for outcome, values in spec.tilt.items():
            _check_keys(values, levels, where=f"context.{f.id}.tilt.{outcome}", complete=False)
            tilt[outcome] = np.array([values.get(level, 1.0) for level in levels])
            if (tilt[outcome] <= 0).any():
                raise PopulationConfigError(BAD_WEIGHT.format(where=f"context.{f.id}.tilt.{outcome}"))
        tilts = np.stack([np.ones(len(levels)), tilt["labour"], tilt["sexual"], tilt["labour"] * tilt["sexual"]])
        table = mix[:, :, None, :] * tilts[None, None, :, :]
        context_p.append(table / table.sum(axis=-1, keepdims=True))

    _check_keys(config.unknown_rate, (GENDER_FIELD, *context_ids), where="unknown_rate", complete=False)
    unknown_rate = {
        k: _rate(v * scale.context_unknown, where=f"unknown_rate.{k}") for k, v in config.unknown_rate.items()
    }

    spec_i = config.indicators
    _check_keys(spec_i.base_rate, STRENGTHS, where="indicators.base_rate", complete=True)
    _check_keys(spec_i.likelihood_ratio, STRENGTHS, where="indicators.likelihood_ratio", complete=True)
    _check_keys(spec_i.overrides, q.indicator_ids, where="indicators.overrides", complete=False)
    _check_keys(spec_i.null_indicators, q.indicator_ids, where="indicators.null_indicators", complete=False)
    share = _rate(spec_i.dimension_factor.share, where="indicators.dimension_factor.share")
    multiplier = _positive(spec_i.dimension_factor.multiplier, where="indicators.dimension_factor.multiplier")
    for strength in STRENGTHS:
        _rate(spec_i.base_rate[strength], where=f"indicators.base_rate.{strength}")
        _positive(spec_i.likelihood_ratio[strength], where=f"indicators.likelihood_ratio.{strength}")
    norm = 1.0 + share * (multiplier - 1.0)
    dimensions = tuple(d for d, _ in q.dimensions)
    stages = tuple(dict.fromkeys(stage for _, stage in q.dimensions))
    n_ind = len(q.indicators)
    yes_p = np.zeros((len(TRUTHS), 2, n_ind))
    for i, f in enumerate(q.indicators):
        override = spec_i.overrides.get(f.id, IndicatorOverride())
        where = f"indicators.overrides.{f.id}"
        base = spec_i.base_rate[f.strength or "weak"]
        if override.base_rate is not None:
            base = _rate(override.base_rate, where=f"{where}.base_rate")
        lr_l = spec_i.likelihood_ratio[f.delphi_strength("labour") or "weak"]
        if override.lr_labour is not None:
            lr_l = _positive(override.lr_labour, where=f"{where}.lr_labour")
        lr_s = spec_i.likelihood_ratio[f.delphi_strength("sexual") or "weak"]
        if override.lr_sexual is not None:
            lr_s = _positive(override.lr_sexual, where=f"{where}.lr_sexual")
        ratios = np.array([1.0, lr_l, lr_s, max(lr_l, lr_s)])
        for z, factor in enumerate((1.0, multiplier)):
            yes_p[:, z, i] = base * ratios * factor / norm
        if f.id not in spec_i.null_indicators and yes_p[:, :, i].max() > MAX_YES_RATE:
            worst, _ = np.unravel_index(yes_p[:, :, i].argmax(), yes_p[:, :, i].shape)
            raise PopulationConfigError(
                YES_RATE_TOO_HIGH.format(
                    indicator=f.id, value=yes_p[:, :, i].max(), truth=TRUTHS[int(worst)], limit=MAX_YES_RATE
                )
            )
    null_mask = np.array([f.id in spec_i.null_indicators for f in q.indicators])
    dim_index = np.array([dimensions.index(f.dimension or "") for f in q.indicators])
    stage_index = np.array([stages.index(q.dimension_stage(f.dimension or "")) for f in q.indicators])

    ans = config.answers
    _check_keys(ans.guarded_share, TRUTHS, where="answers.guarded_share", complete=True)
    guarded_p = np.array([_rate(ans.guarded_share[t], where=f"answers.guarded_share.{t}") for t in TRUTHS])
    declined_p = np.array(
        [
            _rate(ans.declined.open * scale.declined, where="answers.declined.open"),
            _rate(ans.declined.guarded * scale.declined, where="answers.declined.guarded"),
        ]
    )
    _check_keys(ans.dont_know, statuses, where="answers.dont_know", complete=True)
    _positive(ans.victim_dont_know_odds_ratio, where="answers.victim_dont_know_odds_ratio")
    dont_know_p = np.zeros((len(TRUTHS), len(statuses), len(stages)))
    for j, s in enumerate(statuses):
        _check_keys(ans.dont_know[s], stages, where=f"answers.dont_know.{s}", complete=True)
        for k, stage in enumerate(stages):
            rate = _rate(ans.dont_know[s][stage], where=f"answers.dont_know.{s}.{stage}")
            odds = rate / (1.0 - rate) * scale.dont_know_odds
            for t, truth in enumerate(TRUTHS):
                o = odds * (ans.victim_dont_know_odds_ratio if truth != "none" else 1.0)
                dont_know_p[t, j, k] = o / (1.0 + o)
    null = ans.null_indicator
    null_dont_know = _rate(null.dont_know, where="answers.null_indicator.dont_know")
    null_dont_know_odds = null_dont_know / (1.0 - null_dont_know) * scale.dont_know_odds
    null_rates = (
        _rate(null.declined * scale.declined, where="answers.null_indicator.declined"),
        null_dont_know_odds / (1.0 + null_dont_know_odds),
        _rate(null.yes, where="answers.null_indicator.yes"),
    )

    interviews = config.interviews
    applicable = np.array([[f.applies(s) for f in q.indicators] for s in statuses])
    form_spec = chosen.interview_forms or interviews.forms
    form_where = f"scenarios.{scenario}.interview_forms" if chosen.interview_forms else "interviews.forms"
    if form_spec and set(form_spec) <= set(statuses):
        _check_keys(form_spec, statuses, where=form_where, complete=True)
        per_status = []
        for s in statuses:
            sub = form_spec[s]
            if not isinstance(sub, dict):
                raise PopulationConfigError(BAD_WEIGHT.format(where=f"{form_where}.{s}"))
            per_status.append(_weights(sub, FORMS, where=f"{form_where}.{s}"))
        form_p = np.stack(per_status)
    else:
        form_p = np.broadcast_to(_weights(form_spec, FORMS, where=form_where), (len(statuses), len(FORMS))).copy()
    short = interviews.short_form
    _check_keys(short, q.indicator_ids, where="interviews.short_form", complete=False)
    if not short or len(set(short)) != len(short):
        raise PopulationConfigError(EMPTY_SHORT_FORM)
    short_form = np.isin(np.array(q.indicator_ids), short)
    low, high = interviews.interrupted.min_asked, interviews.interrupted.max_asked
    if not 0 <= low <= high:
        raise PopulationConfigError(BAD_ASKED_RANGE.format(where="interviews.interrupted", low=low, high=high))
    skip_rate = _rate(interviews.random_skips.rate, where="interviews.random_skips.rate")

    ident_spec = chosen.identification or config.identification
    _check_keys(ident_spec, OUTCOMES, where="identification", complete=True)
    identification = np.zeros((len(OUTCOMES), len(genders)))
    for o, outcome in enumerate(OUTCOMES):
        _check_keys(ident_spec[outcome], genders, where=f"identification.{outcome}", complete=True)
        for j, g in enumerate(genders):
            value = ident_spec[outcome][g]
            if not 0.0 <= value <= 1.0:
                raise PopulationConfigError(BAD_RATE.format(where=f"identification.{outcome}.{g}", value=value))
            identification[o, j] = value

    if chosen.homogeneous:
        status_p, gender_p, truth_p, context_p = _homogeneous(status_p, gender_p, truth_p, context_p)

    sizes = np.array(sorted(config.repeat_screenings), dtype=np.int64)
    if (sizes < 1).any():
        raise PopulationConfigError(
            BAD_KEYS.format(where="repeat_screenings", keys=sizes.tolist(), allowed="sizes >= 1")
        )
    group_p = _weights(
        {str(k): v for k, v in config.repeat_screenings.items()},
        tuple(map(str, sizes)),
        where="repeat_screenings",
    )

    if config.years.first > config.years.last:
        raise PopulationConfigError(BAD_YEARS.format(first=config.years.first, last=config.years.last))

    return PopulationModel(
        scenario=scenario,
        statuses=statuses,
        genders=genders,
        status_p=status_p,
        gender_p=gender_p,
        truth_p=truth_p,
        context_ids=context_ids,
        context_levels=tuple(_levels(f) for f in context_fields),
        context_p=tuple(context_p),
        unknown_rate=unknown_rate,
        indicator_ids=q.indicator_ids,
        null_mask=null_mask,
        dimensions=dimensions,
        stages=stages,
        dim_index=dim_index,
        stage_index=stage_index,
        yes_p=yes_p,
        factor_share=share,
        guarded_p=guarded_p,
        declined_p=declined_p,
        dont_know_p=dont_know_p,
        null_rates=null_rates,
        applicable=applicable,
        form_p=form_p,
        short_form=short_form,
        interrupted_range=(low, high),
        skip_rate=skip_rate,
        identification=identification,
        group_sizes=sizes,
        group_p=group_p,
        years=(config.years.first, config.years.last),
    )


def _homogeneous(
    status_p: np.ndarray, gender_p: np.ndarray, truth_p: np.ndarray, context_p: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """A population whose groups differ in nothing (a scenario's ``homogeneous: true``).

    Everybody has the commonest migrant status (which questions apply depends on it); gender,
    the truth and every other context and audit field are drawn independently of each other
    and of the truth, from their population-wide mixes. Answers still depend on the truth.
    """
    top = int(np.argmax(status_p))
    genders = gender_p[top]
    truth = genders @ truth_p[top]
    shape = truth_p.shape
    context = [np.broadcast_to(np.einsum("g,t,gtk->k", genders, truth, t[top]), t.shape).copy() for t in context_p]
    return (
        np.eye(len(status_p))[top],
        np.broadcast_to(genders, gender_p.shape).copy(),
        np.broadcast_to(truth, shape).copy(),
        context,
    )


def load_population(*, scenario: str = "default", config_path: str | Path | None = None) -> PopulationModel:
    """Read and check the population config and compile ``scenario`` into arrays.

    Raises
    ------
    PopulationConfigError
        If the scenario is not declared (the message lists those that are), or the config
        does not fit the questionnaire or gives impossible probabilities.
    """
    config, path = _read_config(config_path)
    if scenario not in config.scenarios:
        raise PopulationConfigError(UNKNOWN_SCENARIO.format(name=scenario, allowed=list(config.scenarios)))
    try:
        return _compile(config, scenario)
    except PopulationConfigError as exc:
        raise PopulationConfigError(CONFIG_INVALID.format(path=str(path), problem=exc)) from None


# --------------------------------------------------------------------------- drawing


def _categorical(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One draw per row from row-wise distributions ``probs`` (n, K) with uniforms ``u``."""
    cum = np.cumsum(probs, axis=1)
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int64)


def _categorical_by(table: np.ndarray, combo: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One draw per row from ``table[combo]`` ((C, K) distributions) with uniforms ``u``.

    The CDFs of all combos are laid end to end (combo c shifted by c) so that one
    ``searchsorted`` serves every row.
    """
    n_combo, k = table.shape
    shifted = (np.cumsum(table, axis=1) + np.arange(n_combo)[:, None]).ravel()
    found = np.searchsorted(shifted, u + combo, side="right") - combo * k
    return np.minimum(found, k - 1).astype(np.int64)


BLOCK_SIZE = 5  # indicators per answer-pattern lookup table: 5**5 patterns
COUNT_SHIFT = 256  # packs two counts of a block's answers in one int (blocks are far smaller)


@dataclass(frozen=True)
class _Block:
    """Lookup tables over the answer patterns of up to ``BLOCK_SIZE`` indicators of one dimension.

    A row's pattern is sum_j answer_j * 5**j over the block's columns (answer codes 0-4 in
    :data:`ANSWERS` order). A ``not_asked`` answer has no factor: it adds nothing to any table.
    """

    columns: np.ndarray  # positions in the ``_Tables.real`` order
    dimension: int
    base: np.ndarray  # (S * 5**m, T): log P(asked answers | truth, status, W summed out later, factor off)
    delta: np.ndarray  # (5**m, T): log P(yes/no answers | factor on) - ... | factor off)
    counts: np.ndarray  # (5**m,) int32: declined answers * 256 + asked questions


@dataclass(frozen=True)
class _Tables:
    """Arrays derived from the model once per call, laid out for fast row gathers.

    Non-null indicators are taken in dimension order (``real``); the posterior reads their
    answers through per-block lookup tables (:class:`_Block`).
    """

    real: np.ndarray
    nulls: np.ndarray
    dim_of_real: np.ndarray
    blocks: tuple[_Block, ...]
    ask_rank: np.ndarray  # (S * F, I) int16, questionnaire order: asked if below the row's k
    cut_yes: np.ndarray  # (R, I') float32: P(yes) per row type, see ``_row_type``
    cut_no: np.ndarray  # (R, I') float32: P(yes or no)
    prior: np.ndarray  # (S * G, T)
    context_log: tuple[np.ndarray, ...]  # per field (S * G * (K + 1), T); slot K is "unknown"
    context_cdf: tuple[np.ndarray, ...]  # per field (S * G * T, K)


def _block(model: PopulationModel, real: np.ndarray, columns: np.ndarray) -> _Block:
    """Exact per-pattern log-likelihoods of one block of indicators (see :class:`_Block`)."""
    m = len(columns)
    patterns = (np.arange(N_CODES**m)[:, None] // (N_CODES ** np.arange(m))[None, :]) % N_CODES  # (P, m)
    indicators = real[columns]
    yes_p = model.yes_p[:, :, indicators]  # (T, 2, m)
    stage = int(model.stage_index[indicators[0]])
    dont_know_p = model.dont_know_p[:, :, stage]  # (T, S)
    is_yes = (patterns == YES).astype(float)
    is_no = (patterns == NO).astype(float)
    answered = is_yes.sum(axis=1) + is_no.sum(axis=1)  # (P,)
    dont_know = (patterns == DONT_KNOW).sum(axis=1).astype(float)
    log_z = [is_yes @ _log(yes_p[:, z, :]).T + is_no @ np.log1p(-yes_p[:, z, :]).T for z in (0, 1)]  # (P, T)
    style = (
        dont_know[None, :, None] * _log(dont_know_p).T[:, None, :]
        + answered[None, :, None] * np.log1p(-dont_know_p).T[:, None, :]
    )
    declined = (patterns == DECLINED).sum(axis=1)
    asked = (patterns != NOT_ASKED_CODE).sum(axis=1)
    return _Block(
        columns=columns,
        dimension=int(model.dim_index[indicators[0]]),
        base=(style + log_z[0][None, :, :]).reshape(-1, len(TRUTHS)),
        delta=log_z[1] - log_z[0],
        counts=(declined * COUNT_SHIFT + asked).astype(np.int32),
    )


def _ask_rank(model: PopulationModel) -> np.ndarray:
    """(S * F, I) int16: indicator i is asked in a row of (status, form) iff rank < the row's k.

    Full, short-form and random-skips rows have k = 1 (rank 0: asked); interrupted rows have
    their drawn k and the rank of each applicable indicator in questionnaire order. Random
    skips are applied after this comparison.
    """
    never = np.int16(np.iinfo(np.int16).max)
    n_s, n_i = model.applicable.shape
    rank = np.full((n_s, len(FORMS), n_i), never, dtype=np.int16)
    for s in range(n_s):
        applies = model.applicable[s]
        order = np.cumsum(applies) - 1
        rank[s, FORMS.index("full")] = np.where(applies, 0, never)
        rank[s, FORMS.index("short_form")] = np.where(applies & model.short_form, 0, never)
        rank[s, FORMS.index("interrupted")] = np.where(applies, order, never)
        rank[s, FORMS.index("random_skips")] = np.where(applies, 0, never)
    return rank.reshape(n_s * len(FORMS), n_i)


def _tables(model: PopulationModel) -> _Tables:
    real = np.flatnonzero(~model.null_mask)
    real = real[np.argsort(model.dim_index[real], kind="stable")]
    dim_of_real = model.dim_index[real]
    blocks = []
    for d in range(len(model.dimensions)):
        pos = np.flatnonzero(dim_of_real == d)
        for part in np.array_split(pos, -(-len(pos) // BLOCK_SIZE)) if len(pos) else []:
            blocks.append(_block(model, real, part))
    n_s, n_g, n_t = len(model.statuses), len(model.genders), len(TRUTHS)
    # Answer thresholds per row type (truth, status, style W, factor bits): one row gather
    # per draw instead of arithmetic on every cell.
    bits = (np.arange(2 ** len(model.dimensions))[:, None] >> dim_of_real[None, :]) & 1  # (2^D, I')
    yes = np.where(
        bits[None] == 1, model.yes_p[:, 1, real][:, None, :], model.yes_p[:, 0, real][:, None, :]
    )  # (T, 2^D, I')
    answered = (1.0 - model.declined_p)[None, None, :, None] * (1.0 - model.dont_know_p[:, :, model.stage_index[real]])[
        :, :, None, :
    ]  # (T, S, W, I')
    cut_no = np.broadcast_to(answered[:, :, :, None, :], (n_t, n_s, 2, len(bits), len(real)))
    cut_yes = cut_no * yes[:, None, None, :, :]
    context_log = []
    for table in model.context_p:
        logs = np.concatenate([_log(table), np.zeros((*table.shape[:3], 1))], axis=-1)  # (S, G, T, K+1)
        context_log.append(logs.transpose(0, 1, 3, 2).reshape(-1, n_t))
    return _Tables(
        real=real,
        nulls=np.flatnonzero(model.null_mask),
        dim_of_real=dim_of_real,
        blocks=tuple(blocks),
        ask_rank=_ask_rank(model),
        cut_yes=cut_yes.reshape(-1, len(real)).astype(np.float32),
        cut_no=cut_no.reshape(-1, len(real)).astype(np.float32),
        prior=(_log(model.gender_p)[:, :, None] + _log(model.truth_p)).reshape(n_s * n_g, n_t),
        context_log=tuple(context_log),
        context_cdf=tuple(table.reshape(-1, table.shape[-1]) for table in model.context_p),
    )


@dataclass
class _Codes:
    """Integer codes of a batch of rows; -1 marks a context field recorded as unknown.

    Answer codes index :data:`ANSWERS` (``not_asked`` included).
    """

    status: np.ndarray
    gender: np.ndarray
    context: np.ndarray  # (n, F)
    answers: np.ndarray  # (n, I') answers of the non-null indicators, in ``_Tables.real`` order


def _row_type(
    model: PopulationModel, truth: np.ndarray, status: np.ndarray, guarded: np.ndarray, factors: np.ndarray
) -> np.ndarray:
    """Index of (truth, status, style, factor bits) into ``_Tables.cut_*``."""
    bits = (factors.astype(np.int64) << np.arange(factors.shape[1])).sum(axis=1)
    return ((truth * len(model.statuses) + status) * 2 + guarded) * (1 << factors.shape[1]) + bits


def _draw_chunk(
    model: PopulationModel, tables: _Tables, sizes: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw the groups of ``sizes`` and their rows; returns codes and truth per row."""
    n_groups = len(sizes)
    n_g, n_t = len(model.genders), len(TRUTHS)
    status = _categorical(np.broadcast_to(model.status_p, (n_groups, len(model.statuses))), rng.random(n_groups))
    gender = _categorical_by(model.gender_p, status, rng.random(n_groups))
    truth = _categorical_by(model.truth_p.reshape(-1, n_t), status * n_g + gender, rng.random(n_groups))
    combo = (status * n_g + gender) * n_t + truth
    context = np.empty((n_groups, len(model.context_ids)), dtype=np.int64)
    for k, cdf in enumerate(tables.context_cdf):
        context[:, k] = _categorical_by(cdf, combo, rng.random(n_groups))
    guarded = (rng.random(n_groups) < model.guarded_p[truth]).astype(np.int64)
    factors = rng.random((n_groups, len(model.dimensions))) < model.factor_share
    true_labour = np.isin(truth, (1, 3))
    true_sexual = np.isin(truth, (2, 3))
    observed_labour = true_labour & (rng.random(n_groups) < model.identification[0, gender])
    observed_sexual = true_sexual & (rng.random(n_groups) < model.identification[1, gender])
    year = rng.integers(model.years[0], model.years[1] + 1, size=n_groups)

    def rows(a: np.ndarray) -> np.ndarray:
        return np.repeat(a, sizes, axis=0)

    status, gender, truth, context, guarded, factors = map(rows, (status, gender, truth, context, guarded, factors))
    n = len(status)
    recorded_gender = np.where(rng.random(n) < model.unknown_rate.get(GENDER_FIELD, 0.0), -1, gender)
    masks = np.array([model.unknown_rate.get(f, 0.0) for f in model.context_ids])
    recorded_context = np.where(rng.random((n, len(model.context_ids))) < masks, -1, context)

    # Answers as if asked, with u uniform: yes below cut_yes, no below cut_no, dont_know
    # below 1 - P(declined), else declined: answer codes follow that order. Thresholds are
    # float32 (error below 1e-7).
    u = rng.random((n, len(tables.real)), dtype=np.float32)
    row_type = _row_type(model, truth, status, guarded, factors)
    answers = (u >= tables.cut_yes[row_type]).astype(np.int8)
    answers += u >= tables.cut_no[row_type]
    answers += u >= (1.0 - model.declined_p.astype(np.float32))[guarded][:, None]
    null_declined, null_dont_know, null_yes = model.null_rates
    answered = (1 - null_declined) * (1 - null_dont_know)
    null_cuts = np.array([answered * null_yes, answered, 1 - null_declined])
    un = rng.random((n, len(tables.nulls)))
    null_answers = (un[..., None] >= null_cuts).sum(axis=-1).astype(np.int8)

    # The interview, drawn from the status and a form only (never from the truth or the
    # answers): questions not put are not_asked.
    form = _categorical_by(model.form_p, status, rng.random(n))
    low, high = model.interrupted_range
    stop = rng.integers(low, high + 1, size=n)
    reach = np.where(form == FORMS.index("interrupted"), stop, 1).astype(np.int16)
    asked = tables.ask_rank[status * len(FORMS) + form] < reach[:, None]  # (n, I), questionnaire order
    skips = np.flatnonzero(form == FORMS.index("random_skips"))
    if len(skips):
        kept = rng.random((len(skips), asked.shape[1]), dtype=np.float32) >= np.float32(model.skip_rate)
        asked[skips] &= kept
    np.putmask(answers, ~asked[:, tables.real], np.int8(NOT_ASKED_CODE))
    np.putmask(null_answers, ~asked[:, tables.nulls], np.int8(NOT_ASKED_CODE))
    return {
        "status": status,
        "gender": recorded_gender,
        "context": recorded_context,
        "answers": answers,
        "null_answers": null_answers,
        "true_labour": rows(true_labour).astype(np.int64),
        "true_sexual": rows(true_sexual).astype(np.int64),
        "is_labour": rows(observed_labour).astype(np.int64),
        "is_sexual": rows(observed_sexual).astype(np.int64),
        "year": rows(year).astype(np.int64),
    }


# --------------------------------------------------------------------------- exact posterior


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(a))) along ``axis``, stable, with -inf entries allowed."""
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def _log_context(model: PopulationModel, tables: _Tables, codes: _Codes, gender: np.ndarray) -> np.ndarray:
    """log P(status-given prior, gender, truth, recorded context) for a given gender, (n, T)."""
    base = codes.status * len(model.genders) + gender
    out = tables.prior[base]
    for k, logs in enumerate(tables.context_log):
        n_levels = len(model.context_levels[k]) + 1
        x = codes.context[:, k]
        out += logs[base * n_levels + np.where(x < 0, n_levels - 1, x)]
    return out


def _posterior(model: PopulationModel, tables: _Tables, codes: _Codes) -> np.ndarray:
    """P(truth | recorded fields), (n, T), exact under ``model``."""
    n = len(codes.status)
    # Prior and context fields; an unrecorded gender is summed out.
    log_t = _log_context(model, tables, codes, np.maximum(codes.gender, 0))
    unknown_gender = codes.gender < 0
    if unknown_gender.any():
        subset = _Codes(
            codes.status[unknown_gender],
            codes.gender[unknown_gender],
            codes.context[unknown_gender],
            codes.answers[:0],
        )
        each = [_log_context(model, tables, subset, np.full(len(subset.status), g)) for g in range(len(model.genders))]
        log_t[unknown_gender] = _logsumexp(np.stack(each, axis=1), axis=1)

    # Answers, read through the block lookup tables: the dont_know/answered part and the
    # yes/no part with every latent factor off go straight into log_t; declined answers
    # and the answering style W, and the factors Z_d, are summed out below. A not_asked
    # answer adds nothing anywhere (it is not counted among the asked either).
    columns = np.ascontiguousarray(codes.answers.T)  # (I', n): contiguous per indicator
    row_base = codes.status.astype(np.intp)
    counts = np.zeros(n, dtype=np.int32)
    delta = {d: np.zeros((n, len(TRUTHS))) for d in {block.dimension for block in tables.blocks}}
    for block in tables.blocks:
        pattern = columns[block.columns[0]].astype(np.intp)
        for j, column in enumerate(block.columns[1:], start=1):
            pattern += columns[column].astype(np.intp) * N_CODES**j
        log_t += block.base[row_base * len(block.delta) + pattern]
        delta[block.dimension] += block.delta[pattern]
        counts += block.counts[pattern]
    n_declined = (counts // COUNT_SHIFT).astype(float)
    not_declined = ((counts % COUNT_SHIFT) - n_declined)[:, None]
    by_style = [
        n_declined[:, None] * _log(model.declined_p[w])
        + not_declined * np.log1p(-model.declined_p[w])
        + (_log(model.guarded_p) if w else np.log1p(-model.guarded_p))[None, :]
        for w in (0, 1)
    ]
    log_t += np.logaddexp(by_style[0], by_style[1])
    # log sum_z P(z) P(answers | z) = log P(answers | off) + log(1 - s + s exp(delta_d)).
    share = model.factor_share
    product = np.ones((n, len(TRUTHS)))
    for values in delta.values():
        product *= (1.0 - share) + share * np.exp(values)
    log_t += np.log(product)

    log_t -= _logsumexp(log_t, axis=1)[:, None]
    return np.exp(log_t)


def _outcome_probabilities(posterior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p_labour = np.clip(posterior[:, 1] + posterior[:, 3], 0.0, 1.0)
    p_sexual = np.clip(posterior[:, 2] + posterior[:, 3], 0.0, 1.0)
    return p_labour, p_sexual


# --------------------------------------------------------------------------- frames


def _text_column(codes: np.ndarray, levels: tuple[str, ...]) -> pd.Series:
    """A pandas ``str`` column from integer codes into ``levels`` (fast, via Arrow)."""
    indices = pa.array(codes.astype(np.int8, copy=False))  # every field has fewer than 128 levels
    array = pa.DictionaryArray.from_arrays(indices, pa.array(list(levels), pa.large_string()))
    return pd.Series(pd.array(array.dictionary_decode(), dtype="str"))


def _frame(
    model: PopulationModel,
    tables: _Tables,
    parts: dict[str, np.ndarray],
    p_labour: np.ndarray,
    p_sexual: np.ndarray,
) -> pd.DataFrame:
    q = load_questionnaire()
    text: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
    by_column = {name: np.ascontiguousarray(parts[name].T) for name in ("answers", "null_answers")}
    position = {int(i): ("answers", j) for j, i in enumerate(tables.real)}
    position.update({int(i): ("null_answers", j) for j, i in enumerate(tables.nulls)})
    for i, indicator in enumerate(model.indicator_ids):
        block, j = position[i]
        text[indicator] = (by_column[block][j], ANSWERS)

    def recorded(codes: np.ndarray, field_id: str) -> tuple[np.ndarray, tuple[str, ...]]:
        levels = q.field(field_id).levels  # known levels in order, then "unknown"
        return np.where(codes < 0, len(levels) - 1, codes), levels

    text[STATUS_FIELD] = (parts["status"], q.field(STATUS_FIELD).levels)
    text[GENDER_FIELD] = recorded(parts["gender"], GENDER_FIELD)
    for k, field_id in enumerate(model.context_ids):
        text[field_id] = recorded(parts["context"][:, k], field_id)
    # Arrow releases the GIL: build the text columns on all cores.
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        built = dict(zip(text, pool.map(lambda item: _text_column(*item), text.values()), strict=True))
    columns: dict[str, pd.Series] = dict(built)
    for name in (*LABEL_COLUMNS, *TRUTH_COLUMNS, YEAR_COLUMN, GROUP_COLUMN):
        columns[name] = pd.Series(parts[name])
    columns[PROBABILITY_COLUMNS[0]] = pd.Series(p_labour)
    columns[PROBABILITY_COLUMNS[1]] = pd.Series(p_sexual)
    frame = pd.DataFrame(columns)
    return frame[canonical_order(list(frame.columns))]


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _level_codes(series: pd.Series, levels: tuple[str, ...]) -> np.ndarray:
    """Position of each value of a validated text column in ``levels`` (fast, via Arrow)."""
    found = pc.index_in(pa.array(series, type=pa.large_string()), value_set=pa.array(list(levels), pa.large_string()))
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def _codes_of(frame: pd.DataFrame, model: PopulationModel, tables: _Tables) -> _Codes:
    """Integer codes of a canonical frame's fields under ``model``."""
    q = load_questionnaire()

    def codes(field_id: str) -> np.ndarray:
        levels = q.field(field_id).levels  # known levels, then "unknown": coded -1
        out = _level_codes(frame[field_id], levels)
        out[out == len(levels) - 1] = -1
        return out

    real_ids = [model.indicator_ids[i] for i in tables.real]
    return _Codes(
        status=codes(STATUS_FIELD),
        gender=codes(GENDER_FIELD),
        context=np.stack([codes(f) for f in model.context_ids], axis=1),
        answers=np.stack([_level_codes(frame[i], ANSWERS).astype(np.int8) for i in real_ids], axis=1),
    )


def true_probabilities(
    df: pd.DataFrame,
    *,
    scenario: str = "default",
    config_path: str | Path | None = None,
    hidden: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The generator's exact ``p_labour``/``p_sexual`` for the rows of a validated frame.

    Useful as the Bayes-optimal reference for edited or resampled synthetic rows. Rows
    whose ``migrant_status`` is "unknown" are not covered by the model (it always records it).

    The posterior is given the questions that were asked: a ``not_asked`` indicator has no
    factor in the likelihood (a ``declined`` one keeps its factor: declining says something
    about the answering style). Since the generator chooses the questions from the context
    only, this is the Bayes bound of each partial interview, including interviews cut
    shorter afterwards (:func:`mask_interviews`).

    ``hidden`` names fields to leave out: the result is then the posterior given the other
    fields, the best any model without them can do. Context and audit fields are treated as
    unrecorded, indicators as not asked; both are exact, because the generator leaves a
    field unrecorded independently of its value and of the truth, and a question that is
    not asked has no factor. ``migrant_status`` cannot be hidden.
    """
    frame = validate_frame(df)
    if hidden:
        q = load_questionnaire()
        context = {f.id for f in (*q.context, *q.monitoring)} - {STATUS_FIELD}
        maskable = context | set(q.indicator_ids)
        wrong = sorted(set(hidden) - maskable)
        if wrong:
            raise ValueError(UNMASKABLE.format(fields=wrong, allowed=sorted(context)))
        frame = frame.copy()
        hidden_context = [f for f in hidden if f in context]
        hidden_indicators = [f for f in hidden if f not in context]
        if hidden_context:
            frame[hidden_context] = UNKNOWN
        if hidden_indicators:
            frame[hidden_indicators] = NOT_ASKED
    model = load_population(scenario=scenario, config_path=config_path)
    tables = _tables(model)
    codes = _codes_of(frame, model, tables)
    if (codes.status < 0).any():
        raise PopulationConfigError(STATUS_REQUIRED.format(count=int((codes.status < 0).sum())))
    p_labour, p_sexual = _outcome_probabilities(_posterior(model, tables, codes))
    return pd.DataFrame({PROBABILITY_COLUMNS[0]: p_labour, PROBABILITY_COLUMNS[1]: p_sexual}, index=frame.index)


def mask_interviews(
    frame: pd.DataFrame,
    *,
    seed: int,
    min_asked: int = 3,
    max_asked: int | None = None,
    context_unrecorded: float = 0.0,
) -> pd.DataFrame:
    """Cut each row's interview to a random subset of the questions it asked.

    For every row, the candidates are its indicators that apply to its ``migrant_status``
    and were asked (not ``not_asked``). A number ``k`` is drawn uniformly from ``min_asked``
    to the number of candidates (capped at ``max_asked``; a row with fewer candidates than
    ``min_asked`` keeps them all), a uniformly random subset of ``k`` candidates is kept and
    every other indicator becomes ``not_asked``. Whatever is masked depends on the seed, the
    status and what was asked only, never on the answers or the truth, so
    :func:`true_probabilities` on the result is the exact Bayes bound of the cut interviews.

    Parameters
    ----------
    frame : a Tarozu frame (validated here).
    seed : seed of :func:`numpy.random.default_rng`; the same seed masks the same questions.
    min_asked, max_asked : range of the number of questions kept per row.
    context_unrecorded : share of the context fields (all but ``migrant_status``) also left
        unrecorded, each independently of its value and of the truth, as the generator does.

    Returns
    -------
    pandas.DataFrame
        The validated frame with the masked answers, without ``p_labour``/``p_sexual`` (they
        were the posterior given the unmasked answers: recompute them with
        :func:`true_probabilities`).
    """

    def whole(value: object) -> bool:
        return isinstance(value, int | np.integer) and not isinstance(value, bool)

    if (
        not whole(min_asked)
        or min_asked < 0
        or (max_asked is not None and (not whole(max_asked) or max_asked < min_asked))
    ):
        raise ValueError(BAD_MASK_RANGE.format(low=min_asked, high=max_asked))
    if not 0.0 <= context_unrecorded <= 1.0:
        raise ValueError(BAD_SHARE.format(value=context_unrecorded))
    out = validate_frame(frame).drop(columns=list(PROBABILITY_COLUMNS), errors="ignore")
    q = load_questionnaire()
    ids = list(q.indicator_ids)
    statuses = out[STATUS_FIELD].to_numpy(dtype=object)
    applies = np.ones((len(out), len(ids)), dtype=bool)
    for status in np.unique(statuses):
        rows = statuses == status
        applies[rows] = [f.applies(str(status)) for f in q.indicators]
    codes = np.stack([_level_codes(out[i], ANSWERS) for i in ids], axis=1)
    candidate = applies & (codes != NOT_ASKED_CODE)
    available = candidate.sum(axis=1)
    rng = np.random.default_rng(seed)
    top = available if max_asked is None else np.minimum(available, max_asked)
    low = np.minimum(min_asked, top)
    k = rng.integers(low, top + 1)  # uniform on [low, top] per row
    keys = np.where(candidate, rng.random(candidate.shape), np.inf)
    # Keep the k candidates with the smallest keys: a uniformly random k-subset.
    threshold = np.take_along_axis(np.sort(keys, axis=1), np.maximum(k - 1, 0)[:, None], axis=1)
    keep = candidate & (keys <= threshold) & (k > 0)[:, None]
    codes[~keep] = NOT_ASKED_CODE
    for j, indicator in enumerate(ids):
        out[indicator] = _text_column(codes[:, j], ANSWERS).set_axis(out.index)
    if context_unrecorded > 0.0:
        for f in q.context:
            if f.id != STATUS_FIELD:
                out.loc[rng.random(len(out)) < context_unrecorded, f.id] = UNKNOWN
    return out


def generate(
    *,
    rows: int,
    seed: int,
    scenario: str = "default",
    config_path: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Draw ``rows`` screened people: the Tarozu frame with ground truth and ``group_id``.

    Parameters
    ----------
    rows : number of rows (screenings); groups of repeat screenings are cut at the end.
    seed : seed of :func:`numpy.random.default_rng`; the same seed gives the same frame.
    scenario : a scenario of the population config (``default``, ``bias-gender``, ...).
    config_path : population config; default ``data/synthetic/population.yaml``.
    progress : called with the number of rows done after each chunk (for progress bars).

    Returns
    -------
    pandas.DataFrame
        Canonical frame (see :mod:`pipeline.data.schema`) with ``true_*``, ``p_*``,
        ``group_id`` and ``year``.
    """
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 1:
        raise ValueError(BAD_ROWS.format(rows=rows))
    model = load_population(scenario=scenario, config_path=config_path)
    rng = np.random.default_rng(seed)
    sizes = rng.choice(model.group_sizes, size=rows, p=model.group_p)
    ends = np.cumsum(sizes)
    n_groups = int(np.searchsorted(ends, rows)) + 1
    sizes = sizes[:n_groups].copy()
    sizes[-1] -= int(ends[n_groups - 1]) - rows
    ends = np.cumsum(sizes)
    # Chunk boundaries fall between groups, about every CHUNK_ROWS rows.
    cuts = np.unique(np.searchsorted(ends, np.arange(CHUNK_ROWS, rows, CHUNK_ROWS), side="left") + 1)
    bounds = [0, *[int(c) for c in cuts if 0 < c < n_groups], n_groups]

    tables = _tables(model)
    parts: dict[str, list[np.ndarray]] = {}
    pending: list[Future[np.ndarray]] = []
    done = 0
    # The posterior of a chunk is computed on a worker thread while the next one is drawn
    # (numpy releases the GIL); drawing stays sequential, so the output depends on the seed only.
    with ThreadPoolExecutor(max_workers=1) as pool:
        for start, stop in itertools.pairwise(bounds):
            chunk = _draw_chunk(model, tables, sizes[start:stop], rng)
            chunk[GROUP_COLUMN] = np.repeat(np.arange(start + 1, stop + 1, dtype=np.int64), sizes[start:stop])
            codes = _Codes(chunk["status"], chunk["gender"], chunk["context"], chunk["answers"])
            pending.append(pool.submit(_posterior, model, tables, codes))
            for key, value in chunk.items():
                parts.setdefault(key, []).append(value)
            done += len(chunk["status"])
            if progress is not None:
                progress(done)
        posterior = np.concatenate([future.result() for future in pending])
    merged = {key: np.concatenate(values) for key, values in parts.items()}
    p_labour, p_sexual = _outcome_probabilities(posterior)
    return _frame(model, tables, merged, p_labour, p_sexual)
