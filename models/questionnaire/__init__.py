"""The screening questionnaire, declared once in ``questionnaire.yaml`` and ``texts/*.yaml``.

Every other part of Tarozu (training schema, API request model, web form, explanation
texts) derives its list of indicators, context fields and monitoring fields from
:func:`load_questionnaire`; nothing else lists them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

ANSWERS: tuple[str, ...] = ("yes", "no", "dont_know", "declined", "not_asked")
"""Indicator answers. ``not_asked`` is the reference level: it and ``declined`` contribute 0."""
YES, NO, DONT_KNOW, DECLINED, NOT_ASKED = ANSWERS
NON_ANSWERS: frozenset[str] = frozenset({DECLINED, NOT_ASKED})
"""Answers that are never evidence: they contribute exactly 0 and never appear as a reason."""
NOT_ASKED_REASONS: tuple[str, ...] = ("not_applicable", "not_reached", "not_safe_here", "deferred")
UNKNOWN = "unknown"
"""The level of a context or monitoring field that was not recorded (its reference level)."""
LANGUAGES: tuple[str, ...] = ("en", "ru", "tg")
STRENGTHS: tuple[str, ...] = ("strong", "medium", "weak")
OUTCOMES: tuple[str, ...] = ("labour", "sexual")

FieldKind = Literal["indicator", "context", "monitoring"]
STATUS_FIELD = "migrant_status"
"""Who is being screened: asked first, since it decides which questions apply."""
FAMILY_MEMBER = "family_member"
"""The ``migrant_status`` of a relative screened about someone else: asked the family module."""
NOTICES: tuple[str, ...] = ("non_punishment",)
"""Texts a section may show before its first question."""

UNKNOWN_FIELD = "unknown field {field!r}: allowed fields are {allowed}"
BAD_VALUE = "field {field!r}: value {value!r} is not allowed; allowed values are {allowed}"
BAD_NUMBER = "field {field!r}: value {value!r} must be a whole number from {low} to {high}"
MISSING_TEXT = "texts/{lang}.yaml has no text for {what}"


class QuestionnaireError(ValueError):
    """A questionnaire declaration or a case that does not fit it."""


@dataclass(frozen=True)
class Field:
    """One answerable item: an indicator question, a context field or a monitoring field.

    ``levels`` are the values the field takes after normalisation, always ending with the
    field's :attr:`reference` level (``"not_asked"`` for indicators, ``"unknown"`` for the
    others); for numeric fields (``months_abroad``) they are the bin names.
    ``applies_to`` lists the ``migrant_status`` values whose interviews include the question
    (empty: everyone).
    """

    id: str
    kind: FieldKind
    levels: tuple[str, ...]
    ctdc: str | None = None
    dimension: str | None = None
    strength: str | None = None
    strength_sexual: str | None = None
    ilo: str | None = None
    htcds: str | None = None
    bins: tuple[tuple[str, int, int], ...] = ()
    applies_to: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return bool(self.bins)

    @property
    def reference(self) -> str:
        """The level that is no evidence (contribution exactly 0): not asked / not recorded."""
        return self.levels[-1]

    def applies(self, migrant_status: str | None) -> bool:
        """Whether the question is put to a person of this ``migrant_status`` (unknown: yes)."""
        return not self.applies_to or migrant_status in (None, UNKNOWN) or migrant_status in self.applies_to

    def delphi_strength(self, outcome: str) -> str | None:
        """Delphi strength of an indicator for ``outcome`` (``labour`` or ``sexual``)."""
        if outcome == "sexual" and self.strength_sexual:
            return self.strength_sexual
        return self.strength

    def normalise(self, value: Any) -> str:
        """Map a raw answer to one of ``levels``; ``None`` and empty mean the reference level."""
        if value is None or (isinstance(value, float) and value != value) or value == "":
            return self.reference
        if self.numeric:
            if isinstance(value, str) and value in self.levels:
                return value
            low, high = self.bins[0][1], self.bins[-1][2]
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise QuestionnaireError(BAD_NUMBER.format(field=self.id, value=value, low=low, high=high))
            try:
                number = float(value)
            except ValueError:
                raise QuestionnaireError(BAD_NUMBER.format(field=self.id, value=value, low=low, high=high)) from None
            if not number.is_integer() or not low <= number <= high:
                raise QuestionnaireError(BAD_NUMBER.format(field=self.id, value=value, low=low, high=high))
            for name, lo, hi in self.bins:
                if lo <= number <= hi:
                    return name
        if isinstance(value, str) and value in self.levels:
            return value
        raise QuestionnaireError(BAD_VALUE.format(field=self.id, value=value, allowed=list(self.levels)))


@dataclass(frozen=True)
class Texts:
    """The texts of one language, looked up by field and value."""

    lang: str
    raw: Mapping[str, Any]

    def answer(self, value: str) -> str:
        return str(self.raw["answers"][value])

    def dimension(self, dimension_id: str) -> str:
        return str(self.raw["dimensions"][dimension_id])

    def question(self, field_id: str) -> str:
        """The question (indicators) or label (context and monitoring fields)."""
        for section, key in (("indicators", "question"), ("context", "label"), ("monitoring", "label")):
            if field_id in self.raw[section]:
                return str(self.raw[section][field_id][key])
        raise KeyError(field_id)

    def not_asked_reason(self, reason: str) -> str:
        return str(self.raw["not_asked_reasons"][reason])

    def reason(self, field_id: str) -> str:
        """The plain-language reason shown beside a contribution."""
        if field_id in self.raw["indicators"]:
            return str(self.raw["indicators"][field_id]["reason"])
        return self.question(field_id)

    def value(self, field_id: str, value: str) -> str:
        """A readable name for a field's value (answers for indicators)."""
        if field_id in self.raw["indicators"]:
            return self.answer(value)
        if value == UNKNOWN:
            return str(self.raw["unknown_value"])
        for section in ("context", "monitoring"):
            if field_id in self.raw[section]:
                return str(self.raw[section][field_id]["values"][value])
        raise KeyError(field_id)

    def ui(self, key: str) -> str:
        return str(self.raw.get("ui", {}).get(key, key))

    def family_question(self, field_id: str) -> str:
        """The question of the family module: put to a relative, about the person away."""
        return str(self.raw["indicators"][field_id]["family"])

    def section(self, section_id: str) -> str:
        return str(self.raw["sections"][section_id])

    def notice(self, notice_id: str) -> str:
        return str(self.raw["notices"][notice_id])


@dataclass(frozen=True)
class Section:
    """A part of the interview, in the declared (trauma-informed) order.

    ``indicators`` and ``context`` are asked in this order; ``notice`` names a text of
    :data:`NOTICES` said before the section's first question.
    """

    id: str
    indicators: tuple[str, ...]
    context: tuple[str, ...] = ()
    notice: str | None = None


@dataclass(frozen=True)
class Questionnaire:
    """The parsed declaration; see the module docstring."""

    version: str
    dimensions: tuple[tuple[str, str], ...]
    indicators: tuple[Field, ...]
    """Every indicator, in the interview's order (the order of :attr:`sections`)."""
    context: tuple[Field, ...]
    monitoring: tuple[Field, ...]
    sections: tuple[Section, ...] = ()
    family_module: tuple[str, ...] = ()
    """The indicators put to a family member (addressed to them, about their relative)."""
    _by_id: dict[str, Field] = field(repr=False, compare=False, default_factory=dict)

    @property
    def feature_fields(self) -> tuple[Field, ...]:
        """Fields the models may use by default: indicators then context."""
        return self.indicators + self.context

    @property
    def all_fields(self) -> tuple[Field, ...]:
        return self.indicators + self.context + self.monitoring

    @property
    def indicator_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.indicators)

    @property
    def monitoring_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.monitoring)

    def field(self, field_id: str) -> Field:
        try:
            return self._by_id[field_id]
        except KeyError:
            raise QuestionnaireError(UNKNOWN_FIELD.format(field=field_id, allowed=sorted(self._by_id))) from None

    def dimension_stage(self, dimension_id: str) -> str:
        return dict(self.dimensions)[dimension_id]

    def applicable(self, migrant_status: str | None) -> tuple[Field, ...]:
        """The indicators put to a person of this ``migrant_status`` (all if it is unknown)."""
        return tuple(f for f in self.indicators if f.applies(migrant_status))

    def texts(self, lang: str) -> Texts:
        return load_texts(lang)

    def normalise(self, values: Mapping[str, Any], *, kinds: tuple[FieldKind, ...]) -> dict[str, str]:
        """Complete and check one case: every field of ``kinds``, absent ones at their reference level."""
        wanted = [f for f in self.all_fields if f.kind in kinds]
        allowed = {f.id for f in wanted}
        for key in values:
            if key not in allowed:
                raise QuestionnaireError(UNKNOWN_FIELD.format(field=key, allowed=sorted(allowed)))
        return {f.id: f.normalise(values.get(f.id)) for f in wanted}


def _levels(values: list[str]) -> tuple[str, ...]:
    return (*[str(v) for v in values], UNKNOWN)


def _parse(raw: Mapping[str, Any]) -> Questionnaire:
    dims = tuple((d["id"], d["stage"]) for d in raw["dimensions"])
    dim_ids = {d for d, _ in dims}
    answers = tuple(raw["answers"])
    if answers != ANSWERS:
        raise QuestionnaireError(f"answers must be {list(ANSWERS)}, not {list(answers)}")
    if tuple(raw.get("not_asked_reasons", ())) != NOT_ASKED_REASONS:
        raise QuestionnaireError(f"not_asked_reasons must be {list(NOT_ASKED_REASONS)}")
    applies = {d["id"]: tuple(d.get("applies_to", ())) for d in raw["dimensions"]}
    family = tuple(raw.get("family_module", ()))
    indicators = []
    for item in raw["indicators"]:
        if item["dimension"] not in dim_ids:
            raise QuestionnaireError(f"indicator {item['id']!r}: unknown dimension {item['dimension']!r}")
        for key in ("strength", "strength_sexual"):
            if item.get(key) is not None and item[key] not in STRENGTHS:
                raise QuestionnaireError(f"indicator {item['id']!r}: {key} must be one of {list(STRENGTHS)}")
        indicators.append(
            Field(
                id=item["id"],
                kind="indicator",
                levels=ANSWERS,
                ctdc=item.get("ctdc"),
                dimension=item["dimension"],
                strength=item["strength"],
                strength_sexual=item.get("strength_sexual"),
                ilo=item.get("ilo"),
                htcds=item.get("htcds"),
                applies_to=tuple(item.get("applies_to", applies[item["dimension"]])),
            )
        )
    declared = [f.id for f in indicators]
    sections = tuple(
        Section(
            id=str(sec["id"]),
            indicators=tuple(sec.get("indicators", ())),
            context=tuple(sec.get("context", ())),
            notice=sec.get("notice"),
        )
        for sec in raw.get("sections", ())
    )
    in_sections = [i for sec in sections for i in sec.indicators]
    if sorted(in_sections) != sorted(declared):
        missing = sorted(set(declared) - set(in_sections))
        extra = sorted({i for i in in_sections if in_sections.count(i) > 1} | (set(in_sections) - set(declared)))
        raise QuestionnaireError(
            f"sections must list every indicator exactly once: missing {missing}, unknown or repeated {extra}"
        )
    for sec in sections:
        if sec.notice is not None and sec.notice not in NOTICES:
            raise QuestionnaireError(f"section {sec.id!r}: notice must be one of {list(NOTICES)}")
    unknown_family = sorted(set(family) - set(declared))
    if unknown_family:
        raise QuestionnaireError(f"family_module names unknown indicators {unknown_family}")
    by_declared = {f.id: f for f in indicators}
    indicators = [by_declared[i] for i in in_sections] if sections else indicators

    def other(item: Mapping[str, Any], kind: FieldKind) -> Field:
        if "bins" in item:
            bins = tuple((str(name), int(lo), int(hi)) for name, (lo, hi) in item["bins"].items())
            return Field(
                id=item["id"],
                kind=kind,
                levels=_levels([b[0] for b in bins]),
                ctdc=item.get("ctdc"),
                bins=bins,
            )
        return Field(
            id=item["id"], kind=kind, levels=_levels(item["values"]), ctdc=item.get("ctdc"), htcds=item.get("htcds")
        )

    context = tuple(other(item, "context") for item in raw["context"])
    statuses = next((f.levels[:-1] for f in context if f.id == STATUS_FIELD), ())
    for f in indicators:
        wrong = sorted(set(f.applies_to) - set(statuses))
        if wrong:
            raise QuestionnaireError(f"indicator {f.id!r}: applies_to names unknown migrant_status values {wrong}")
    if family:
        # With a family module, a family member is asked exactly its questions; everyone else
        # as the indicator (or its dimension) says. Stored as the explicit list of statuses.
        for n, f in enumerate(indicators):
            others = [s for s in (f.applies_to or statuses) if s != FAMILY_MEMBER]
            if f.id in family:
                others.append(FAMILY_MEMBER)
            elif f.applies_to == (FAMILY_MEMBER,):
                raise QuestionnaireError(
                    f"indicator {f.id!r} applies only to family members but is not in family_module"
                )
            indicators[n] = replace(f, applies_to=tuple(s for s in statuses if s in others))
    context_ids = {f.id for f in context}
    for sec in sections:
        unknown = sorted(set(sec.context) - context_ids)
        if unknown:
            raise QuestionnaireError(f"section {sec.id!r}: unknown context fields {unknown}")
    monitoring = tuple(other(item, "monitoring") for item in raw["monitoring"])
    q = Questionnaire(
        version=str(raw["version"]),
        dimensions=dims,
        indicators=tuple(indicators),
        context=context,
        monitoring=monitoring,
        sections=sections,
        family_module=tuple(i for i in (f.id for f in indicators) if i in family),
    )
    ids = [f.id for f in q.all_fields]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise QuestionnaireError(f"field ids declared twice: {duplicated}")
    q._by_id.update({f.id: f for f in q.all_fields})
    return q


def load_yaml(text: str) -> Any:
    """YAML read safely (plain data, no Python objects), by libyaml's parser where PyYAML has it: about
    ten times faster than the pure-Python one, which a server and every bulk worker pay at start."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (a safe loader)


def _read_yaml(name: str) -> Any:
    return load_yaml(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


@cache
def load_questionnaire() -> Questionnaire:
    """The questionnaire shipped with Tarozu (parsed once per process)."""
    return _parse(_read_yaml("questionnaire.yaml"))


@cache
def load_texts(lang: str) -> Texts:
    """Texts for ``lang`` (one of :data:`LANGUAGES`), checked to cover every field."""
    if lang not in LANGUAGES:
        raise QuestionnaireError(f"language {lang!r} is not available; choose one of {list(LANGUAGES)}")
    texts = Texts(lang=lang, raw=_read_yaml(f"texts/{lang}.yaml"))
    q = load_questionnaire()
    for f in q.all_fields:
        try:
            texts.question(f.id)
            texts.reason(f.id)
            for level in f.levels:
                texts.value(f.id, level)
        except KeyError as exc:
            raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what=f"{f.id} ({exc})")) from None
        if f.kind != "indicator":
            named = texts.raw["context" if f.kind == "context" else "monitoring"][f.id].get("values", {})
            stray = sorted(set(map(str, named)) - set(f.levels))
            if stray:
                raise QuestionnaireError(
                    f"texts/{lang}.yaml names values of {f.id} that the questionnaire does not declare: {stray} "
                    "(an unquoted comma inside a label splits it: quote the label)"
                )
    danger = texts.raw.get("danger", {})
    if "question" not in danger or set(danger.get("options", {})) != {YES, NO, DECLINED, NOT_ASKED}:
        raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what="the danger question and its four options"))
    for reason in NOT_ASKED_REASONS:
        if reason not in texts.raw.get("not_asked_reasons", {}):
            raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what=f"not_asked reason {reason}"))
    for dim, _ in q.dimensions:
        if dim not in texts.raw["dimensions"]:
            raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what=f"dimension {dim}"))
    for sec in q.sections:
        if sec.id not in texts.raw.get("sections", {}):
            raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what=f"section {sec.id}"))
        if sec.notice is not None and sec.notice not in texts.raw.get("notices", {}):
            raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what=f"notice {sec.notice}"))
    if q.family_module and set(texts.raw.get("family", {})) != {"title", "intro"}:
        raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what="the family module's title and intro"))
    for field_id in q.family_module:
        if "family" not in texts.raw["indicators"].get(field_id, {}):
            raise QuestionnaireError(MISSING_TEXT.format(lang=lang, what=f"{field_id} (its family wording)"))
    return texts
