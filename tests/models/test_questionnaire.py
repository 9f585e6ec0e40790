"""The questionnaire's declaration: order, family module, wording, and clear errors on bad edits."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from models.questionnaire import (
    FAMILY_MEMBER,
    LANGUAGES,
    QuestionnaireError,
    _parse,
    _read_yaml,
    load_questionnaire,
    load_texts,
)

# Conclusions about a person, not descriptions of what happened: never in a question or a reason.
CONCLUSIONS = {
    "en": r"\b(forced|abuse[ds]?|victims?|exploit\w*|traffick\w*)\b",
    "ru": r"(принудительн|жертв|торговл\w* людьми|эксплуатац)",
    "tg": r"(қурбон|савдои одам|истисмор)",
}


def _raw() -> dict[str, Any]:
    return copy.deepcopy(_read_yaml("questionnaire.yaml"))


def test_every_indicator_is_asked_once_in_the_declared_order() -> None:
    q = load_questionnaire()
    in_sections = [i for section in q.sections for i in section.indicators]
    assert in_sections == list(q.indicator_ids)
    assert [s.id for s in q.sections] == ["story", "conditions", "control", "violence"]


def test_the_non_punishment_notice_comes_before_the_self_incriminating_questions() -> None:
    q = load_questionnaire()
    order = list(q.indicator_ids)
    noticed = [s for s in q.sections if s.notice == "non_punishment"]
    assert len(noticed) == 1
    first = order.index(noticed[0].indicators[0])
    for question in ("irregular_status", "entry_ban", "forced_illicit_activities", "told_to_lie"):
        assert order.index(question) >= first, question
    # Violence is asked last: after every question of the story and the conditions.
    violence = next(s for s in q.sections if s.id == "violence")
    assert order.index(violence.indicators[0]) == len(order) - len(violence.indicators)


def test_a_family_member_is_asked_the_family_module_only() -> None:
    q = load_questionnaire()
    asked = {f.id for f in q.applicable(FAMILY_MEMBER)}
    assert asked == set(q.family_module)
    only_family = {f.id for f in q.indicators if f.applies_to == (FAMILY_MEMBER,)}
    assert only_family == {"lost_contact", "family_asked_to_pay"}
    for status in ("returnee", "prospective"):
        assert not only_family & {f.id for f in q.applicable(status)}
    # Returnees are still asked everything that is not family-only.
    assert {f.id for f in q.applicable("returnee")} == set(q.indicator_ids) - only_family


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_family_question_is_addressed_to_the_relative(lang: str) -> None:
    q = load_questionnaire()
    texts = load_texts(lang)
    for field_id in q.family_module:
        family = texts.family_question(field_id)
        assert family
        if q.field(field_id).applies_to != (FAMILY_MEMBER,):
            assert family != texts.question(field_id), field_id
    assert texts.raw["family"]["title"]
    assert texts.raw["family"]["intro"]
    for section in q.sections:
        assert texts.section(section.id)
        if section.notice:
            assert texts.notice(section.notice)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_questions_and_reasons_describe_answers_not_conclusions(lang: str) -> None:
    texts = load_texts(lang)
    pattern = re.compile(CONCLUSIONS[lang], re.IGNORECASE)
    found = [
        (field_id, key, text)
        for field_id, item in texts.raw["indicators"].items()
        for key, text in item.items()
        if pattern.search(str(text))
    ]
    assert found == []


def test_the_split_double_questions_are_gone() -> None:
    ids = set(load_questionnaire().indicator_ids)
    assert not ids & {"forced_tasks_or_clients", "low_or_no_pay"}
    assert {"tasks_not_agreed", "no_choice_of_clients", "wages_withheld", "very_low_pay"} <= ids


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw["sections"][0]["indicators"].pop(0), "sections must list every indicator exactly once"),
        (
            lambda raw: raw["sections"][1]["indicators"].append(raw["sections"][0]["indicators"][0]),
            "unknown or repeated",
        ),
        (lambda raw: raw["sections"][2].update(notice="be_quiet"), "notice must be one of"),
        (lambda raw: raw["sections"][0]["context"].append("shoe_size"), "unknown context fields ['shoe_size']"),
        (lambda raw: raw["family_module"].append("no_such_question"), "family_module names unknown indicators"),
        (lambda raw: raw["family_module"].remove("lost_contact"), "applies only to family members"),
    ],
)
def test_a_bad_declaration_names_what_is_wrong(edit: Any, message: str) -> None:
    raw = _raw()
    edit(raw)
    with pytest.raises(QuestionnaireError, match=re.escape(message)):
        _parse(raw)


def _load_edited_en(monkeypatch: pytest.MonkeyPatch, edit: Any) -> None:
    """Load the English texts after ``edit`` changed a copy of them (the shipped file is untouched)."""
    raw = copy.deepcopy(dict(load_texts("en").raw))
    edit(raw)
    load_texts.cache_clear()
    monkeypatch.setattr("models.questionnaire._read_yaml", lambda name: raw if name == "texts/en.yaml" else _raw())
    try:
        load_texts("en")
    finally:
        monkeypatch.undo()
        load_texts.cache_clear()


def test_a_missing_family_wording_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QuestionnaireError, match=re.escape("deported (its family wording)")):
        _load_edited_en(monkeypatch, lambda raw: raw["indicators"]["deported"].pop("family"))


def test_a_label_split_by_an_unquoted_comma_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QuestionnaireError, match=re.escape("others_present that the questionnaire does not declare")):
        _load_edited_en(
            monkeypatch, lambda raw: raw["monitoring"]["others_present"]["values"].update({"border guard": None})
        )


def test_the_questionnaire_page_lists_every_indicator_and_no_retired_one() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "questionnaire.md").read_text(encoding="utf-8")
    table = {m.group(1) for m in re.finditer(r"^\| `(\w+)` \|", doc, re.MULTILINE)}
    q = load_questionnaire()
    assert set(q.indicator_ids) <= table
    assert not table & {"forced_tasks_or_clients", "low_or_no_pay", "forced_marriage", "forced_to_lie"}
