"""Training configuration: frozen, strict pydantic models loaded from YAML.

A typo in a config file is an error, not a silent default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.questionnaire import load_questionnaire, load_yaml

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.yaml"
MODEL_KINDS = ("sparse_logistic", "additive_boosting")


class ConfigError(ValueError):
    """A training configuration that cannot be used; the message says which key and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class DataConfig(_Strict):
    source: Literal["synthetic", "file"] = "synthetic"
    path: str | None = None
    rows: int = Field(default=100_000, ge=100)
    seed: int = 42
    scenario: str = "default"
    extra: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _path_for_files(self) -> DataConfig:
        if self.source == "file" and not self.path:
            raise ValueError("data.source is 'file' but data.path is not set")
        return self


class SplitConfig(_Strict):
    calibration: float = Field(default=0.2, gt=0, lt=0.5)
    test: float = Field(default=0.2, gt=0, lt=0.5)
    seed: int = 0


class FeatureConfig(_Strict):
    protected_as_features: tuple[str, ...] = ()
    reason: str | None = None

    @model_validator(mode="after")
    def _reason_for_protected(self) -> FeatureConfig:
        audit = set(load_questionnaire().monitoring_ids)
        unknown = [f for f in self.protected_as_features if f not in audit]
        if unknown:
            raise ValueError(f"features.protected_as_features: {unknown} are not monitoring fields {sorted(audit)}")
        if self.protected_as_features and not (self.reason and self.reason.strip()):
            raise ValueError(
                "features.protected_as_features is set but features.reason is empty: "
                "say why protected attributes are model features; the model card records it"
            )
        return self


class SparseLogisticConfig(_Strict):
    C: float = Field(default=0.05, gt=0)
    refit_C: float = Field(default=10.0, gt=0)
    # The most that all "don't know" answers of one case together may move its log-odds
    # (either way): a person who does not know is not to be scored as exploited for it.
    dont_know_cap: float = Field(default=0.5, gt=0)


class BoostingConfig(_Strict):
    max_iter: int = Field(default=150, ge=1)
    learning_rate: float = Field(default=0.5, gt=0, le=1)
    l2_regularization: float = Field(default=1.0, ge=0)


class ModelsConfig(_Strict):
    production: Literal["sparse_logistic", "additive_boosting"] = "sparse_logistic"
    sparse_logistic: SparseLogisticConfig = SparseLogisticConfig()
    additive_boosting: BoostingConfig = BoostingConfig()


class CalibrationConfig(_Strict):
    target_sensitivity: float = Field(default=0.90, gt=0, le=1)
    high_band_sensitivity: float = Field(default=0.50, gt=0, le=1)
    ensemble_members: int = Field(default=50, ge=0, le=500)
    # A recommendation to refer or not is "settled" only when the questions not yet asked
    # would change it with at most this chance; otherwise the status is "ask_more".
    settled_flip_chance: float = Field(default=0.05, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _ordered(self) -> CalibrationConfig:
        if self.high_band_sensitivity > self.target_sensitivity:
            raise ValueError("calibration.high_band_sensitivity must not exceed calibration.target_sensitivity")
        return self


class ReferralConfig(_Strict):
    """The referral tiers' thresholds, chosen on the calibration split (see :mod:`pipeline.referral`).

    ``nrm_max_share``: the specialist assessment (nrm) tier holds at most this share of the
    people screened, the capacity of the national referral mechanism. ``sensitivity``: the nrm
    and support tiers together hold at least this share of exploited people (of either type).
    ``information_sensitivity``: nrm, support and information together hold at least this share;
    the rest get no referral. Each tier's threshold of an outcome is where that outcome's
    sensitivity reaches a level common to both outcomes, so one tier catches the same share of
    labour as of sexual exploitation.
    """

    nrm_max_share: float = Field(default=0.05, gt=0, lt=1)
    sensitivity: float = Field(default=0.90, gt=0, le=1)
    information_sensitivity: float = Field(default=0.97, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ReferralConfig:
        if self.information_sensitivity < self.sensitivity:
            raise ValueError("referral.information_sensitivity must not be below referral.sensitivity")
        return self


class EvaluationConfig(_Strict):
    bootstrap: int = Field(default=200, ge=0)
    seed: int = 0


class RegistryConfig(_Strict):
    model_name: str = "tarozu-screening"
    experiment: str = "tarozu"
    register_model: bool = True


BAD_TOLERANCE = "fairness.tolerance must be [lower, upper] with 0 < lower < 1 < upper, not {tolerance!r}"


class FairnessConfig(_Strict):
    """How the fairness audit (:mod:`pipeline.fairness.audit`) compares a group with its reference, wherever
    it runs: training's audit of the test split, ``tarozu audit`` and the promotion's gate.

    ``tolerance``: the band of acceptable ratios of a group's error rate to its reference's.
    ``min_cases``: the fewest victims (miss rates) or non-victims (false alarms) a group and its
    reference need for a verdict. ``alpha``: the error rate of the adjusted tests. ``power``: the
    power at which each comparison's detectable ratio is reported.
    """

    tolerance: tuple[float, float] = (0.8, 1.25)
    min_cases: int = Field(default=30, ge=1)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)

    @model_validator(mode="after")
    def _band(self) -> FairnessConfig:
        lower, upper = self.tolerance
        if not 0 < lower < 1 < upper:
            raise ValueError(BAD_TOLERANCE.format(tolerance=list(self.tolerance)))
        return self


class FairnessGateConfig(_Strict):
    """The promotion's fairness gate (see :mod:`pipeline.fairness.gate`): which disparities block, and the
    power rule (a group of at least ``min_share`` of the people must be able to show a ratio of
    ``max_detectable``). The audit it runs compares groups as the config's ``fairness`` section says."""

    block_on: tuple[Literal["miss_rate", "false_alarm_rate"], ...] = Field(default=("miss_rate",), min_length=1)
    max_detectable: float = Field(default=3.0, gt=1)
    min_share: float = Field(default=0.10, gt=0, le=1)


class PromotionConfig(_Strict):
    max_auroc_drop: float = Field(default=0.01, ge=0)
    max_log_loss_increase: float = Field(default=0.02, ge=0)
    evaluation_rows: int = Field(default=50_000, ge=1000)
    evaluation_seed: int = 2027
    fairness: FairnessGateConfig = Field(default_factory=FairnessGateConfig)


class InterviewsConfig(_Strict):
    """Training rows cut the way interviews are cut, so scores stay calibrated for any set of
    asked questions (short forms, interviews stopped early, an empty form)."""

    masked_copies: int = Field(default=1, ge=0, le=5)
    min_asked: int = Field(default=0, ge=0)
    max_asked: int = Field(default=12, ge=0)
    context_unrecorded: float = Field(default=0.3, ge=0, le=1)
    seed: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> InterviewsConfig:
        if self.min_asked > self.max_asked:
            raise ValueError("interviews.min_asked must not exceed interviews.max_asked")
        return self


class TrainConfig(_Strict):
    data: DataConfig = DataConfig()
    split: SplitConfig = SplitConfig()
    interviews: InterviewsConfig = InterviewsConfig()
    features: FeatureConfig = FeatureConfig()
    models: ModelsConfig = ModelsConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    referral: ReferralConfig = ReferralConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    fairness: FairnessConfig = FairnessConfig()
    registry: RegistryConfig = RegistryConfig()
    promotion: PromotionConfig = PromotionConfig()

    @property
    def feature_fields(self) -> tuple[str, ...]:
        q = load_questionnaire()
        return tuple(f.id for f in q.feature_fields) + self.features.protected_as_features


def _listify(raw: object) -> object:
    """YAML lists become tuples, as strict frozen models expect."""
    if isinstance(raw, dict):
        return {k: _listify(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return tuple(_listify(v) for v in raw)
    return raw


def load_config(path: str | Path | None = None) -> TrainConfig:
    """Read a training config (the shipped default when ``path`` is None)."""
    source = Path(path) if path else DEFAULT_CONFIG
    try:
        raw = load_yaml(source.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {source} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {source.name} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {source.name} must hold a mapping of sections, not {type(raw).__name__}")
    try:
        return TrainConfig.model_validate(_listify(raw))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"config file {source.name} is invalid: {problems}") from None
