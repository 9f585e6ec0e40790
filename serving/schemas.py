"""Request and response models of the API.

The case models (answers, context, monitoring fields) are derived from the questionnaire with
``create_model``: one optional field per indicator with the answers as a ``Literal``, one per
context or monitoring field with its declared values, so adding a question to
``models/questionnaire/questionnaire.yaml`` changes the API without touching this file.
Response models are documentation for OpenAPI: handlers return ``orjson`` bytes directly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from models.engine import DANGER_ANSWERS, STATUSES
from models.outcomes import SPECIALIST_OUTCOMES
from models.questionnaire import (
    LANGUAGES,
    NOT_ASKED,
    NOT_ASKED_REASONS,
    STATUS_FIELD,
    UNKNOWN,
    Field as QField,
    load_questionnaire,
    load_texts,
)
from models.referral import TIERS
from serving.bulk import BULK_NOT_SCREENING, BULK_ONLY_FIELDS
from serving.text import FreeText

TEXT_MAX_CHARS = 500
CASE_REF_MAX_CHARS = 128

Lang = Literal[LANGUAGES]  # type: ignore[valid-type]
Assessment = Literal["low", "medium", "high"]
Decision = Literal["referred", "not_referred", "needs_more_information"]
DecisionReason = Literal[
    "screener_judgement",
    "additional_information",
    "person_declined_referral",
    "answers_unreliable",
    "other",
]
SpecialistOutcome = Literal[SPECIALIST_OUTCOMES]  # type: ignore[valid-type]
Role = Literal["screener", "supervisor", "specialist", "reviewer", "data-scientist", "admin"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
DECISION_REASONS: tuple[str, ...] = DecisionReason.__args__  # type: ignore[attr-defined]
ASSESSMENTS: tuple[str, ...] = Assessment.__args__  # type: ignore[attr-defined]
FREE_TEXT_FIELDS = frozenset({"case_ref", "reason_text", "reason", "label", "override_reason"})
"""Fields whose values are never echoed in error bodies or logs (they may hold identifiers)."""

STRICT = ConfigDict(extra="forbid")


def _whole_number(value: Any) -> Any:
    """JSON Schema's ``integer`` includes ``14.0``; ``true`` and ``"14"`` stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[StrictInt, BeforeValidator(_whole_number)]


def _value_type(field: QField) -> Any:
    """The type of a questionnaire field in a request: its levels, or whole months."""
    if field.numeric:
        low, high = field.bins[0][1], field.bins[-1][2]
        return Annotated[WholeNumber, Field(ge=low, le=high)] | Literal[UNKNOWN] | None
    return Literal[field.levels] | None


def _group_model(name: str, fields: tuple[QField, ...], doc: str) -> type[BaseModel]:
    en = load_texts("en")
    definitions: dict[str, Any] = {
        f.id: (_value_type(f), Field(default=None, description=en.question(f.id))) for f in fields
    }
    return create_model(name, __config__=STRICT, __doc__=doc, **definitions)


_Q = load_questionnaire()

Answers = _group_model(
    "Answers",
    _Q.indicators,
    "Answers keyed by indicator id: yes, no, dont_know (asked; the person does not know), declined "
    "(asked; the person chose not to answer) or not_asked. An indicator left out is not asked. "
    "Declined and not-asked answers are never evidence: they contribute exactly 0.",
)
NotAskedReasons = create_model(
    "NotAskedReasons",
    __config__=STRICT,
    __doc__="Why a question was not put, keyed by indicator id (only for questions not asked).",
    **{f.id: (Literal[NOT_ASKED_REASONS] | None, Field(default=None)) for f in _Q.indicators},  # type: ignore[call-overload]
)
Context = _group_model(
    "Context",
    _Q.context,
    "Context of the migration; months_abroad is a whole number of months (0 if not yet left).",
)
MonitoringFields = _group_model(
    "MonitoringFields",
    _Q.monitoring,
    "Protected attributes and how the interview was held, stored for the fairness audit and never "
    "used as model features unless the model card says so.",
)

CHILD_AGE_BANDS: tuple[str, ...] = ("0-8", "9-17")
CASE_RULES: tuple[str, ...] = (
    "consent_required",
    "child_protection",
    "migrant_status_required",
    "not_applicable",
    "questionnaire_version",
    "bulk_not_screening",
)
OTHER_VERSION = (
    "questionnaire_version {given!r} is not the questionnaire this service asks ({current!r}): the "
    "answers may mean something else. Reload the questionnaire (GET /v1/questionnaire) and ask again."
)
CONSENT_REQUIRED = (
    "consent is required before anything is scored: tell the person who is asking, why, what happens "
    "with the answers, that any question may be left unanswered and that help does not depend on it; "
    "then record their agreement as consent: true. Without it nothing is scored or logged."
)
CHILD_PROTECTION = (
    "monitoring.age_band {band!r} is under 18: Tarozu is not validated for children. Follow the "
    "child-protection procedure (best interests of the child, a guardian, a child-protection "
    "specialist) instead of this screening."
)
STATUS_REQUIRED = (
    "context.migrant_status is required: who is being screened is asked first, since it decides "
    "which questions apply (returnee, prospective or family_member)."
)
NOT_APPLICABLE = (
    "answers {fields} do not apply to a {status}: they are not put to them. Leave them out "
    "(or send not_asked), or correct context.migrant_status."
)
REASON_FOR_ANSWERED = (
    "not_asked_reasons names {fields}, which were answered: a reason is only for a question not asked."
)


_NOT_APPLICABLE: dict[str | None, tuple[str, ...]] = {}


def not_applicable(status: str | None) -> tuple[str, ...]:
    """The indicators not put to a person of this ``migrant_status``, in questionnaire order (computed
    once per status: a request's status is one of the questionnaire's few levels)."""
    ids = _NOT_APPLICABLE.get(status)
    if ids is None:
        ids = _NOT_APPLICABLE[status] = tuple(f.id for f in _Q.indicators if not f.applies(status))
    return ids


def _case_rules(case: Any) -> Any:
    """The rules of a screening beyond each field's type (each a 422 with its own code)."""
    if case.consent is not True:
        raise PydanticCustomError("consent_required", CONSENT_REQUIRED)
    if case.questionnaire_version is not None and case.questionnaire_version != _Q.version:
        raise PydanticCustomError(
            "questionnaire_version", OTHER_VERSION.format(given=case.questionnaire_version, current=_Q.version)
        )
    band = getattr(case.monitoring, "age_band", None) if case.monitoring is not None else None
    if band in CHILD_AGE_BANDS:
        raise PydanticCustomError("child_protection", CHILD_PROTECTION.format(band=band))
    status = getattr(case.context, STATUS_FIELD)
    if status in (None, UNKNOWN):
        raise PydanticCustomError("migrant_status_required", STATUS_REQUIRED)
    # The groups' fields are exactly the indicators (extra="forbid"): read the validated values at once.
    answered = {fid for fid, value in case.answers.__dict__.items() if value is not None and value != NOT_ASKED}
    wrong = sorted(answered.intersection(not_applicable(status)))
    if wrong:
        who = load_texts("en").value(STATUS_FIELD, status).lower()
        raise PydanticCustomError("not_applicable", NOT_APPLICABLE.format(fields=wrong, status=who))
    reasons = {fid for fid, reason in case.not_asked_reasons.__dict__.items() if reason is not None}
    if reasons & answered:
        raise PydanticCustomError("not_applicable", REASON_FOR_ANSWERED.format(fields=sorted(reasons & answered)))
    return case


InvocationRecord = _group_model(
    "InvocationRecord",
    _Q.all_fields,
    "One case for /invocations: columns are questionnaire field ids; missing ones are unknown.",
)

SCREENING_EXAMPLE: dict[str, Any] = {
    "answers": {"documents_withheld": "yes", "debt_bondage": "no", "excessive_hours": "yes"},
    "context": {
        "migrant_status": "returnee",
        "destination": "RUS",
        "sector": "construction",
        "months_abroad": 14,
        "recruiter_relation": "friend",
        "job_found_via": "friend_or_relative",
    },
    "monitoring": {"gender": "man", "age_band": "24-26", "citizenship": "TJK", "region": "khatlon"},
    "not_asked_reasons": {"sexual_violence": "not_safe_here"},
    "danger": "no",
    "questionnaire_version": _Q.version,
    "consent": True,
    "case_ref": "NRM-2026-0042",
    "lang": "en",
    "screener_assessment": "medium",
}

ScreeningRequest = create_model(
    "ScreeningRequest",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [SCREENING_EXAMPLE]}),
    __doc__="One case to screen, with the person's consent. The screener's own assessment is required and "
    "is made before any score is seen.",
    __validators__={"case_rules": model_validator(mode="after")(_case_rules)},  # type: ignore[dict-item]
    consent=(
        StrictBool | None,
        Field(
            default=None,
            description="The person agreed to the screening after being told what it is: required, and true.",
        ),
    ),
    questionnaire_version=(
        str | None,
        Field(
            default=None,
            max_length=32,
            description="The questionnaire version the answers were collected with (GET /v1/questionnaire); "
            "a case of another version is refused.",
        ),
    ),
    answers=(Answers, Field(default_factory=Answers)),
    not_asked_reasons=(NotAskedReasons, Field(default_factory=NotAskedReasons)),
    danger=(  # type: ignore[arg-type]
        Literal[DANGER_ANSWERS],
        Field(
            default=NOT_ASKED,
            description="Are you, or is anyone close to you, in danger now? yes refers urgently, whatever the score.",
        ),
    ),
    context=(Context, Field(default_factory=Context)),
    monitoring=(MonitoringFields | None, None),  # type: ignore[arg-type]
    case_ref=(
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=CASE_REF_MAX_CHARS,
            description="Your own case reference; stored only as an HMAC-SHA256 with the server secret.",
        ),
    ),
    lang=(Lang, Field(default="en", description="Language of the texts in the result.")),
    screener_assessment=(
        Assessment,
        Field(description="The screener's concern before seeing any score: low, medium or high."),
    ),
)

BULK_EXAMPLE: dict[str, Any] = {k: v for k, v in SCREENING_EXAMPLE.items() if k not in BULK_ONLY_FIELDS}


class BulkCase(ScreeningRequest):  # type: ignore[misc,valid-type]
    """One case of a batch: a screening request without the screener's assessment or a case reference.

    A screener's assessment is the record that a person looked at this case before the score; one
    pasted onto thousands of rows would record nothing of the kind, so a batch may not carry any."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [BULK_EXAMPLE]})
    screener_assessment: None = Field(default=None, description="Not allowed in a batch: bulk is not screening.")
    case_ref: None = Field(default=None, description="Not allowed in a batch: nothing is kept per case.")

    @model_validator(mode="before")
    @classmethod
    def _not_screening(cls, data: Any) -> Any:
        found = [f for f in BULK_ONLY_FIELDS if isinstance(data, dict) and f in data]
        if found:
            raise PydanticCustomError("bulk_not_screening", BULK_NOT_SCREENING.format(fields=" or ".join(found)))
        return data


BatchRequest = create_model(
    "BatchRequest",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [{"cases": [BULK_EXAMPLE]}]}),
    __doc__="Several cases for bulk scoring; all are validated before any is scored (all or nothing).",
    cases=(list[BulkCase], Field(min_length=1)),
)


# ---------------------------------------------------------------------------- responses
class ModelRef(BaseModel):
    name: str
    version: str


class Contribution(BaseModel):
    field: str
    answer: str
    answer_text: str
    contribution: float = Field(description="Contribution to the log-odds.")
    direction: Literal["raises", "lowers", "none"]
    reason: str


HIDDEN = " Left out of a screener's result unless TAROZU_SHOW_PROBABILITIES_TO_SCREENERS is set."


class Explanation(BaseModel):
    base_value: float | None = Field(default=None, description="The log-odds of an empty form." + HIDDEN)
    log_odds: float | None = Field(default=None, description="base_value + sum(contributions), exactly." + HIDDEN)
    contributions: list[Contribution] = Field(
        description="The answers and context that carry evidence, largest contribution first; questions not asked, "
        "declined answers and unrecorded context contribute exactly 0 and are not listed."
    )


class OutcomeResult(BaseModel):
    label: str
    probability: float | None = Field(default=None, description="Calibrated probability." + HIDDEN)
    interval: list[float] | None = Field(default=None, description="2.5% and 97.5% of the bootstrap ensemble." + HIDDEN)
    range: list[float] | None = Field(
        default=None,
        description="5th and 95th percentile the probability could still reach if the remaining questions were "
        "asked." + HIDDEN,
    )
    band: Literal["low", "medium", "high"] = Field(description="The band words describe the signs, not the person.")
    band_label: str
    above_threshold: bool
    threshold: float | None = Field(default=None, description="The band's medium threshold." + HIDDEN)
    reasons: list[Contribution] | None = Field(
        default=None,
        description="The compact form (the default): the answers and context with the largest contributions, "
        "largest first; the first entries of the full form's explanation.contributions.",
    )
    explanation: Explanation | None = Field(
        default=None, description="The full form (`?explain=full`), in place of reasons: every contribution."
    )


class Recommendation(BaseModel):
    status: Literal[STATUSES] = Field(  # type: ignore[valid-type]
        description="refer or no_referral only when settled; ask_more when the questions not yet asked could "
        "still change it, or when nothing but non-answers points to a referral."
    )
    status_label: str
    refer: bool = Field(description="status is refer: a settled support or nrm tier.")
    tier: Literal[TIERS] | None = Field(  # type: ignore[valid-type]
        description="The referral tier, settled: nrm (specialist assessment under the national referral "
        "mechanism), support (legal, labour-rights or migrant-support services), information (safe-migration "
        "information) or none; null while the case is not settled (ask_more)."
    )
    tier_label: str | None
    leaning_tier: Literal[TIERS] = Field(  # type: ignore[valid-type]
        description="The tier the answers so far point to; not final unless it equals tier. Never nrm without "
        "a yes answer, the screener's high concern or a yes to the danger question."
    )
    leaning_tier_label: str
    urgent: bool = Field(description="The danger question was answered yes: protection and referral come first.")
    settled: bool
    flip_chance: float = Field(description="Chance that the questions not yet asked would change the decision.")
    text: str


class InterviewCounts(BaseModel):
    total: int = Field(description="Questions that apply to this person.")
    answered: int = Field(description="Answered yes, no or don't know.")
    dont_know: int
    declined: int
    not_asked: int
    not_applicable: int
    text: str


class NextQuestion(BaseModel):
    indicator: str
    question: str
    if_yes: dict[str, float] | None = Field(default=None, description="Each type's probability if yes." + HIDDEN)
    if_no: dict[str, float] | None = Field(default=None, description="Each type's probability if no." + HIDDEN)
    effect: float = Field(description="How much the answer is expected to settle the decision (larger first).")


class ScreeningResult(BaseModel):
    screening_id: str
    created_at: str
    model: ModelRef
    outcomes: dict[str, OutcomeResult]
    recommendation: Recommendation
    interview: InterviewCounts
    next_questions: list[NextQuestion] = Field(description="Questions to ask next, best first.")
    caveat: str


class BatchResponse(BaseModel):
    results: list[dict[str, Any]] = Field(
        description="Per case, in the order sent: the fields of a ScreeningResult, with `row` (1-based) in "
        "place of `screening_id`: bulk scoring logs the call (its row count), not screenings."
    )


OVERRIDE_REASON = (
    "Why a supervisor acts on another key's screening (required of a supervisor, refused from a screener, "
    "who acts on their own screenings only); logged with the override. No identifiers."
)


class DecisionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "not_referred", "reason": "person_declined_referral"}]},
    )
    decision: Decision
    reason: DecisionReason | None = Field(
        default=None, description="Required when the decision differs from the recommendation."
    )
    reason_text: FreeText | None = Field(
        default=None,
        min_length=1,
        max_length=TEXT_MAX_CHARS,
        description="Optional explanation; no names or other identifiers.",
    )
    override_reason: FreeText | None = Field(
        default=None, min_length=1, max_length=TEXT_MAX_CHARS, description=OVERRIDE_REASON
    )


class DecisionResponse(BaseModel):
    screening_id: str
    decision: Decision
    reason: DecisionReason | None
    recommendation_refer: bool
    differs_from_recommendation: bool
    override: bool = Field(description="True when a supervisor decided on another key's screening.")
    created_at: str


class OutcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"outcome": "labour"}]})
    outcome: SpecialistOutcome = Field(
        description="labour, sexual or both (trafficking); labour_rights_violation (a labour-rights violation, "
        "not trafficking) or other_vulnerability (another vulnerability that needs help); none (nothing "
        "found); unknown (not known yet: a later outcome supersedes it)."
    )


class OutcomeResponse(BaseModel):
    screening_id: str
    outcome: SpecialistOutcome
    created_at: str


CorrectableField = Literal[(*(f.id for f in _Q.all_fields), "screener_assessment")]  # type: ignore[valid-type]
CorrectionValue = Annotated[WholeNumber, Field(ge=-(1 << 63), lt=1 << 63)] | str | None
"""A field's value: a number within 64 bits (no field holds more, and the log stores it as JSON), a level, or null."""


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "field": "documents_withheld",
                    "old_value": "not_asked",
                    "new_value": "yes",
                    "reason": "Answer entered in the wrong row; checked with the paper form.",
                }
            ]
        },
    )
    field: CorrectableField = Field(  # type: ignore[valid-type]
        description="A question, context or monitoring field. screener_assessment is listed only to be refused "
        "(422 assessment_not_correctable): it measures automation bias and is fixed before the score is shown."
    )
    old_value: CorrectionValue = Field(description="The current value; the correction is refused if it differs.")
    new_value: CorrectionValue
    reason: FreeText = Field(min_length=1, max_length=TEXT_MAX_CHARS, description="Why; no identifiers.")
    override_reason: FreeText | None = Field(
        default=None, min_length=1, max_length=TEXT_MAX_CHARS, description=OVERRIDE_REASON
    )


class CorrectionResponse(BaseModel):
    screening_id: str
    field: str
    old_value: CorrectionValue
    new_value: CorrectionValue
    override: bool = Field(description="True when a supervisor corrected another key's screening.")
    created_at: str


class CorrectionEntry(BaseModel):
    field: str
    old_value: CorrectionValue
    new_value: CorrectionValue
    reason: str
    override_reason: str | None = Field(description="Set when a supervisor corrected another key's screening.")
    created_at: str
    role: str
    key_id: str


class DecisionEntry(BaseModel):
    decision: Decision
    reason: DecisionReason | None
    reason_text: str | None
    differs_from_recommendation: bool
    override_reason: str | None = Field(description="Set when a supervisor decided on another key's screening.")
    created_at: str
    role: str
    key_id: str


class OutcomeEntry(BaseModel):
    outcome: SpecialistOutcome
    created_at: str
    role: str
    key_id: str


class ScreeningValues(BaseModel):
    answers: dict[str, str]
    context: dict[str, Any]
    monitoring: dict[str, str]
    screener_assessment: Assessment | None


class ScreeningRecord(BaseModel):
    """The full record: reviewers, data scientists and supervisors."""

    view: Literal["full"]
    screening_id: str
    seq: int
    created_at: str
    source: Literal["api", "batch", "invocations"]
    role: str
    key_id: str
    model: ModelRef
    lang: str | None
    has_case_ref: bool
    original: ScreeningValues = Field(description="The values as submitted; never edited.")
    current: ScreeningValues = Field(description="The values after all corrections.")
    result: dict[str, Any] = Field(description="Scores and explanation as logged (log-odds contributions).")
    corrections: list[CorrectionEntry]
    decision: DecisionEntry | None
    outcomes: list[OutcomeEntry]


class OwnCorrection(BaseModel):
    field: str
    old_value: CorrectionValue
    new_value: CorrectionValue
    reason: str
    override_reason: str | None
    created_at: str
    role: str


class OwnDecision(BaseModel):
    decision: Decision
    reason: DecisionReason | None
    reason_text: str | None
    differs_from_recommendation: bool
    override_reason: str | None
    created_at: str
    role: str


class ScreenerRecord(BaseModel):
    """A screener's own screening: what they entered and were shown, and what became of it."""

    view: Literal["screener"]
    screening_id: str
    created_at: str
    model: ModelRef
    lang: str | None
    has_case_ref: bool
    original: ScreeningValues
    current: ScreeningValues
    result: dict[str, Any] = Field(
        description="As logged, without the probability of each type (and the numbers that give it back) "
        "unless the server shows them to screeners."
    )
    corrections: list[OwnCorrection] = Field(description="Without key ids: a supervisor's shows its role.")
    decision: OwnDecision | None


class CaseDecision(BaseModel):
    decision: Decision
    reason: DecisionReason | None
    differs_from_recommendation: bool
    created_at: str


class CaseOutcome(BaseModel):
    outcome: SpecialistOutcome
    created_at: str


class SpecialistRecord(BaseModel):
    """What a specialist needs for the assessment: the answers and context (as corrected), the
    recommendation and tier, the decision, and earlier outcomes; no monitoring fields, no screener's
    assessment, no free text, no key ids."""

    view: Literal["specialist"]
    screening_id: str
    created_at: str
    model: ModelRef
    lang: str | None
    answers: dict[str, str]
    context: dict[str, Any]
    corrected_fields: list[str] = Field(description="Fields corrected since the screening, in order.")
    result: dict[str, Any] = Field(description="The scores, bands, tier and reasons, as logged.")
    decision: CaseDecision | None
    outcomes: list[CaseOutcome]


class ScreeningSummary(BaseModel):
    screening_id: str
    seq: int
    created_at: str
    source: str
    role: str
    key_id: str
    model: ModelRef
    screener_assessment: str | None
    refer: bool
    labour_probability: float | None = Field(description="null in a screener's list unless shown to screeners.")
    sexual_probability: float | None
    decision: Decision | None
    decision_reason: DecisionReason | None
    n_corrections: int


class ScreeningPage(BaseModel):
    items: list[ScreeningSummary]
    page: int
    page_size: int
    total: int


class ModelInfo(BaseModel):
    name: str
    version: str
    alias: str
    run_id: str
    fields: list[str]
    outcomes: dict[str, dict[str, Any]] = Field(description="Per outcome: threshold, high_threshold, bands.")
    bands: list[str]
    metrics: dict[str, Any]
    card: dict[str, Any]
    loaded_at: str


class ReloadResponse(BaseModel):
    previous: ModelRef
    current: ModelRef
    changed: bool


class QuestionnaireOut(BaseModel):
    version: str
    lang: Lang
    answers: list[dict[str, str]]
    not_asked_reasons: list[dict[str, str]]
    danger: dict[str, Any]
    dimensions: list[dict[str, Any]]
    sections: list[dict[str, Any]] = Field(
        description="The interview's parts in the order to ask them (trauma-informed): each with its "
        "label, an optional notice to say before its first question, its context fields and indicators."
    )
    family: dict[str, str] = Field(description="Title and introduction of the family module.")
    indicators: list[dict[str, Any]] = Field(
        description="In the interview's order. `family_question`: the wording for a family member "
        "(present on the family module's questions, the only ones put to a family member)."
    )
    context: list[dict[str, Any]]
    monitoring: list[dict[str, Any]]
    screener_assessment: list[dict[str, str]]
    decisions: list[str]
    decision_reasons: list[str]
    specialist_outcomes: list[str]
    messages: dict[str, Any]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "screener", "label": "desk 3"}]})
    role: Role
    label: FreeText | None = Field(default=None, max_length=100)


class KeyInfo(BaseModel):
    key_id: str
    role: Role
    label: str | None
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyInfo):
    key: str = Field(description="Shown once; only its SHA-256 is stored.")


class ModelEventRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "a miss-rate disparity for women found in the field audit"}]},
    )
    reason: FreeText = Field(
        min_length=1,
        max_length=TEXT_MAX_CHARS,
        description="Why: shown to every caller while the model is withdrawn, so no names or other identifiers.",
    )


class ModelEvent(BaseModel):
    action: Literal["withdraw", "reinstate"]
    model: ModelRef
    reason: str
    created_at: str
    role: str
    key_id: str


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]
    model: ModelRef | None
    database: Literal["ok", "unreachable"]
    withdrawal: dict[str, Any] | None = Field(
        default=None, description="When the served model was withdrawn: when, by which key, why, how to resume."
    )


# ---------------------------------------------------------------------------- errors
class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable code, e.g. invalid_value, unknown_field.")
    message: str = Field(description="What was wrong and how to fix it.")
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    value: Any = Field(default=None, description="The value sent (never echoed for free text).")
    allowed: Any = Field(default=None, description="What is allowed instead.")
    row: int | None = Field(default=None, description="1-based case number in a batch.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class MlflowError(BaseModel):
    error_code: str = Field(examples=["BAD_REQUEST"])
    message: str
