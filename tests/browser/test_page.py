"""The screening page in a real browser: consent, who is screened, the interview, the result,
decisions, review, languages.

Everything the page shows is checked against what the API itself answers for the request the
page sent (captured and replayed), so the tests hold for any test model, not for numbers
copied from one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

# One server and one browser for the module: keep its tests on one xdist worker.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

HIGH = {
    "answers": {
        "documents_withheld": "yes",
        "debt_bondage": "yes",
        "movement_restricted": "yes",
        "excessive_hours": "yes",
        "sexual_violence": "yes",
        "no_choice_of_clients": "yes",
        "threats": "yes",
    },
    "context": {
        "migrant_status": "returnee",
        "destination": "RUS",
        "sector": "construction",
        "months_abroad": 14,
    },
}
GIVEN = ("yes", "no", "dont_know", "declined")
CHILD_BANDS = ("0-8", "9-17")
PAGE_BUDGET_BYTES = 200_000


# ---------------------------------------------------------------------------- helpers
def sign_in(page: Any, server: Any, role: str = "screener") -> None:
    page.goto(server.url + "/")
    page.fill("#apikey", server.keys[role])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
    page.wait_for_selector("#q-documents_withheld")


def sign_in_again(page: Any, server: Any, role: str = "screener") -> None:
    page.fill("#apikey", server.keys[role])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")


def fill_case(page: Any, case: dict[str, Any]) -> None:
    """Who is screened first (it decides which questions show), then answers and context."""
    context = dict(case["context"])
    status = context.pop("migrant_status", None)
    if status:
        page.select_option("#f-migrant_status", status)
    for field, answer in case["answers"].items():
        page.check(f"#a-{field}--{answer}")
    for field, value in context.items():
        selector = f"#f-{field}"
        if page.get_attribute(selector, "type") == "number":
            page.fill(selector, str(value))
        else:
            page.select_option(selector, value)


def all_no_case(q: dict[str, Any], status: str = "returnee") -> dict[str, Any]:
    """Every question that applies to `status` answered no."""
    answers = {i["id"]: "no" for i in q["indicators"] if applies(i, status)}
    return {"answers": answers, "context": {"migrant_status": status, "destination": "KAZ", "months_abroad": 3}}


def applies(indicator: dict[str, Any], status: str) -> bool:
    return not indicator.get("applies_to") or status in indicator["applies_to"]


def is_screening_post(request: Any) -> bool:
    return request.method == "POST" and request.url.endswith("/v1/screenings")


def submit(page: Any, assessment: str | None = "medium") -> dict[str, Any]:
    """Gives the screener's assessment, submits, waits for the result; returns the body sent."""
    if assessment:
        page.check(f"#assessment--{assessment}")
    with page.expect_request(is_screening_post) as sent:
        page.click("#submit")
    page.wait_for_selector("#result:not([hidden]) .outcome")
    body: dict[str, Any] = sent.value.post_data_json
    return body


def replay(server: Any, body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the API answers for the body the page sent (a new screening of the same case)."""
    with server.client("screener") as client:
        response = client.post("/v1/screenings", json={**body, **changes})
    assert response.status_code in (200, 201), response.text
    return response.json()


def questionnaire(server: Any, lang: str) -> dict[str, Any]:
    with server.client("screener") as client:
        response = client.get("/v1/questionnaire", params={"lang": lang})
    assert response.status_code == 200, response.text
    return response.json()


def question_text(q: dict[str, Any], field: str) -> str:
    item = next(i for i in q["indicators"] if i.get("id") == field)
    return str(item.get("question") or item.get("label") or item.get("text"))


def reasons_of(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """The reasons the API gave: the compact form's top reasons (what the page asks for), or every
    contribution of a full one."""
    reasons: list[dict[str, Any]] = (
        outcome["reasons"] if "reasons" in outcome else outcome["explanation"]["contributions"]
    )
    return reasons


def top_reason(outcome: dict[str, Any]) -> str | None:
    nonzero = [c for c in reasons_of(outcome) if abs(c["contribution"]) > 1e-9]
    return max(nonzero, key=lambda c: abs(c["contribution"]))["reason"] if nonzero else None


def count_posts(page: Any) -> list[Any]:
    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if is_screening_post(r) else None)
    return posts


def assert_result_matches(page: Any, expected: dict[str, Any]) -> None:
    """The page shows the API's status, tier, counts, texts, and per outcome a band (or, not settled,
    the range when the caller is shown probabilities); never a probability the API left out."""
    rec = expected["recommendation"]
    status = rec["status"]
    expect(page.locator("#rec-status")).to_have_attribute("data-status", status)
    assert page.locator("#rec-status").inner_text().strip() == rec["status_label"]
    tier = page.locator("#rec-tier")
    assert tier.is_visible()
    if rec["tier"] is not None:
        assert tier.get_attribute("data-tier") == rec["tier"]
        assert tier.locator(".tier").inner_text().strip() == rec["tier_label"]
        assert tier.locator(".is-leaning").count() == 0
    else:
        assert status == "ask_more"
        assert tier.get_attribute("data-tier") == ""
        assert tier.get_attribute("data-leaning-tier") == rec["leaning_tier"]
        assert tier.locator(".tier.is-leaning").inner_text().strip() == rec["leaning_tier_label"]
    assert page.locator("#rec-text").inner_text().strip() == rec["text"]
    assert page.locator("#interview").inner_text().strip() == expected["interview"]["text"]
    assert page.locator("#caveat").inner_text().strip() == expected["caveat"]
    assert page.locator("#urgent").is_visible() == bool(rec["urgent"])
    for name, outcome in expected["outcomes"].items():
        card = page.locator(f'.outcome[data-outcome="{name}"]')
        if "probability" not in outcome:
            assert card.locator(".prob, .range, .interval").count() == 0, "a probability the API left out"
        if status == "ask_more":
            assert card.locator(".band").count() == 0, "no band while the result is not settled"
            if "range" in outcome:
                lo, hi = outcome["range"]
                assert float(card.locator(".range").get_attribute("data-lo")) == pytest.approx(lo)
                assert float(card.locator(".range").get_attribute("data-hi")) == pytest.approx(hi)
        else:
            assert card.locator(".band").get_attribute("data-band") == outcome["band"]
            assert card.locator(".band-text").inner_text().strip() == outcome["band_label"]
        # Reasons: only the fields the API lists as evidence, the largest first.
        listed = {c["field"] for c in reasons_of(outcome)}
        shown = card.locator(".reason").evaluate_all("nodes => nodes.map(n => n.dataset.field)")
        assert set(shown) <= listed
        reason = top_reason(outcome)
        if reason is None:
            assert card.locator(".reason").count() == 0
        else:
            assert card.locator(".reason-label").first.inner_text().strip() == reason
    next_ids = [n["indicator"] for n in expected["next_questions"]][:5]
    shown_next = page.locator("#next-questions li").evaluate_all("nodes => nodes.map(n => n.dataset.field)")
    assert shown_next == next_ids


def no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def precedes(page: Any, first: str, second: str) -> bool:
    """Whether the node `first` selects comes before the one `second` selects in the document."""
    return bool(
        page.evaluate(
            """([a, b]) => !!(document.querySelector(a).compareDocumentPosition(document.querySelector(b))
                 & Node.DOCUMENT_POSITION_FOLLOWING)""",
            [first, second],
        )
    )


def first_question(section: dict[str, Any]) -> str:
    return f"#q-{section['indicators'][0]}"


# ---------------------------------------------------------------------------- the form
def test_form_starts_with_nothing_selected(page: Any, server: Any) -> None:
    q = questionnaire(server, "en")
    sign_in(page, server)
    assert page.locator("#qform input:checked").count() == 0, "no answer, consent or danger is pre-selected"
    assert page.locator("#q-documents_withheld input[type=radio]").count() == len(GIVEN)
    for answer in GIVEN:
        assert page.locator(f"#a-documents_withheld--{answer}").count() == 1
    assert page.locator(".q .na-select").evaluate_all("nodes => nodes.every(n => n.value === '')")
    reasons = {r["value"]: r["label"] for r in q["not_asked_reasons"]}
    for reason in ("not_reached", "not_safe_here", "deferred"):
        option = page.locator(f'#r-documents_withheld option[value="{reason}"]')
        assert option.inner_text().strip() == reasons[reason]
    assert page.locator("#danger-q").inner_text().strip() == q["danger"]["question"]
    # The order of the page: the child notice, consent and who is screened before the questions.
    order = page.evaluate(
        """() => ['child-notice', 'consent-box', 'f-migrant_status', 'danger-box', 'questions']
             .map(id => document.getElementById(id))
             .every((node, i, all) => i === 0
                || (all[i - 1].compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING))"""
    )
    assert order
    assert "18" in page.locator("#child-notice").inner_text()
    assert page.locator("#danger-box").is_visible()


def test_prospective_hides_the_questions_that_do_not_apply(page: Any, server: Any) -> None:
    q = questionnaire(server, "en")
    not_applicable = [i["id"] for i in q["indicators"] if not applies(i, "prospective")]
    applicable = [i["id"] for i in q["indicators"] if applies(i, "prospective")]
    assert not_applicable, "the questionnaire endpoint must give applies_to for each indicator"
    sign_in(page, server)
    page.select_option("#f-migrant_status", "returnee")
    page.check("#a-documents_withheld--yes")
    page.select_option("#f-migrant_status", "prospective")
    for field in not_applicable:
        expect(page.locator(f"#q-{field}")).to_be_hidden()
    for field in applicable:
        expect(page.locator(f"#q-{field}")).to_be_visible()
    assert str(len(not_applicable)) in page.locator("#hidden-note").inner_text()

    page.check("#consent")
    page.check(f"#a-{applicable[0]}--no")
    page.select_option(f"#r-{applicable[1]}", "not_safe_here")
    body = submit(page)
    assert body["context"]["migrant_status"] == "prospective"
    assert body["answers"] == {applicable[0]: "no"}, "a hidden answer is never sent"
    reasons = body["not_asked_reasons"]
    assert reasons[applicable[1]] == "not_safe_here"
    assert {k for k, v in reasons.items() if v == "not_applicable"} == set(not_applicable)

    # Back to a returnee: the questions and the answer kept in the draft come back.
    page.click("#back")
    page.select_option("#f-migrant_status", "returnee")
    expect(page.locator("#q-documents_withheld")).to_be_visible()
    assert page.is_checked("#a-documents_withheld--yes")


def test_questions_follow_the_declared_sections(page: Any, server: Any) -> None:
    q = questionnaire(server, "en")
    sections = q["sections"]
    declared = [i for sec in sections for i in sec["indicators"]]
    assert declared == [i["id"] for i in q["indicators"]], "the body's indicators are in the sections' order"
    sign_in(page, server)
    shown = page.locator("#questions .q").evaluate_all("nodes => nodes.map(n => n.dataset.field)")
    assert shown == declared
    assert page.locator("#questions .section").evaluate_all("nodes => nodes.map(n => n.dataset.section)") == [
        sec["id"] for sec in sections
    ]
    assert page.locator("#questions .section-h").all_inner_texts() == [sec["label"] for sec in sections]
    for sec in sections:
        node = f'#questions .section[data-section="{sec["id"]}"]'
        inside = page.locator(f"{node} .q").evaluate_all("nodes => nodes.map(n => n.dataset.field)")
        assert inside == sec["indicators"]
        # A section's context fields open it, after its heading and before its first question.
        for field in sec["context"]:
            assert page.locator(f"{node} #f-{field}").count() == 1, f"{field} is in section {sec['id']}"
            assert precedes(page, f"{node} .section-h", f"#f-{field}")
            assert precedes(page, f"#f-{field}", first_question(sec))
        notice = page.locator(f'{node} [role="note"]')
        if sec["notice"]:
            expect(notice).to_have_text(sec["notice"])
            expect(notice).to_be_visible()
            assert precedes(page, f"{node} .section-h", f'{node} [role="note"]')
            assert precedes(page, f'{node} [role="note"]', first_question(sec))
        else:
            assert notice.count() == 0
    assert any(sec["notice"] for sec in sections), "the non-punishment notice is declared"
    # The dimension is still shown with each question; the monitoring fields close the form.
    dimensions = {d["id"]: d["label"] for d in q["dimensions"]}
    first = q["indicators"][0]
    expect(page.locator(f"#q-{first['id']} .q-dim")).to_have_text(dimensions[first["dimension"]])
    for field in q["monitoring"]:
        if field["id"] != "age_band":  # asked first, with who is screened
            assert page.locator(f"#monitoring #f-{field['id']}").count() == 1
    assert precedes(page, f"#q-{declared[-1]}", "#monitoring")
    assert page.locator("#context").is_hidden(), "every context field is in a section"


def test_family_member_is_asked_the_family_module(page: Any, server: Any) -> None:
    q = questionnaire(server, "en")
    family = [i for i in q["indicators"] if "family_question" in i]
    others = [i["id"] for i in q["indicators"] if "family_question" not in i]
    assert [i["id"] for i in family] == [i["id"] for i in q["indicators"] if applies(i, "family_member")]
    assert others, "the family module is not the whole questionnaire"
    shared = next(i for i in family if applies(i, "returnee"))
    only_family = next(i["id"] for i in family if not applies(i, "returnee"))
    returnee_only = next(i["id"] for i in q["indicators"] if i["id"] in others and applies(i, "returnee"))
    sign_in(page, server)
    page.check("#consent")
    page.select_option("#f-migrant_status", "returnee")
    expect(page.locator("#family-intro")).to_be_hidden()
    expect(page.locator(f"#q-{only_family}")).to_be_hidden()
    page.check(f"#a-{returnee_only}--yes")  # answered, then hidden: never sent
    page.check(f"#a-{shared['id']}--yes")

    page.select_option("#f-migrant_status", "family_member")
    expect(page.locator("#family-h")).to_have_text(q["family"]["title"])
    expect(page.locator("#family-text")).to_have_text(q["family"]["intro"])
    expect(page.locator("#family-intro")).to_be_visible()
    assert precedes(page, "#family-intro", first_question(q["sections"][0]))
    shown = page.locator("#questions .q").evaluate_all(
        "ns => ns.filter(n => n.checkVisibility()).map(n => [n.dataset.field, n.querySelector('legend').textContent])"
    )
    assert shown == [[i["id"], i["family_question"]] for i in family], "only the family module, in its wording"
    assert str(len(others)) in page.locator("#hidden-note").inner_text()

    page.check(f"#a-{only_family}--no")
    with page.expect_response(lambda r: is_screening_post(r.request)) as response:
        body = submit(page, "medium")
    assert response.value.status == 201
    assert body["context"]["migrant_status"] == "family_member"
    assert body["questionnaire_version"] == q["version"]
    assert body["answers"] == {shared["id"]: "yes", only_family: "no"}, "a hidden answer is never sent"
    assert {k for k, v in body["not_asked_reasons"].items() if v == "not_applicable"} == set(others)
    assert_result_matches(page, replay(server, body))

    # Back to a returnee: the usual wording, no family module, and the kept answer returns.
    page.click("#back")
    page.select_option("#f-migrant_status", "returnee")
    expect(page.locator("#family-intro")).to_be_hidden()
    expect(page.locator(f"#q-{shared['id']} legend")).to_have_text(shared["question"])
    expect(page.locator(f"#q-{only_family}")).to_be_hidden()
    assert page.is_checked(f"#a-{returnee_only}--yes")


def test_notice_and_family_module_in_every_language(page: Any, server: Any) -> None:
    sign_in(page, server)
    page.select_option("#f-migrant_status", "family_member")
    for lang in ("ru", "tg", "en"):
        q = questionnaire(server, lang)
        page.select_option("#lang", lang)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("#family-h")).to_have_text(q["family"]["title"])
        expect(page.locator("#family-text")).to_have_text(q["family"]["intro"])
        for sec in q["sections"]:
            expect(page.locator(f"#sec-{sec['id']}-h")).to_have_text(sec["label"])
            if sec["notice"]:
                expect(page.locator(f'#sec-{sec["id"]} [role="note"]')).to_have_text(sec["notice"])
        item = next(i for i in q["indicators"] if "family_question" in i)
        expect(page.locator(f"#q-{item['id']} legend")).to_have_text(item["family_question"])


def test_submit_needs_consent(page: Any, server: Any) -> None:
    posts = count_posts(page)
    sign_in(page, server)
    fill_case(page, HIGH)
    page.check("#assessment--high")
    page.click("#submit")
    expect(page.locator("#alert")).to_contain_text("consent")
    assert page.locator("#consent-error").is_visible()
    assert page.evaluate("document.activeElement.id") == "consent"
    assert page.locator("#result").is_hidden()
    assert not posts, "nothing is sent before consent is recorded"

    page.check("#consent")
    body = submit(page, assessment=None)
    assert body["consent"] is True
    assert len(posts) == 1


def test_under_18_shows_the_child_protection_notice_and_sends_nothing(page: Any, server: Any) -> None:
    posts = count_posts(page)
    sign_in(page, server)
    page.check("#consent")
    fill_case(page, HIGH)
    page.check("#assessment--medium")
    for band in CHILD_BANDS:
        page.select_option("#f-age_band", band)
        expect(page.locator("#child-stop")).to_be_visible()
        assert "child-protection" in page.locator("#child-stop").inner_text()
        page.click("#submit")
        expect(page.locator("#alert")).to_contain_text("child-protection")
        assert page.locator("#result").is_hidden()
    assert not posts, "an under-18 screening is never sent"

    page.select_option("#f-age_band", "21-23")
    expect(page.locator("#child-stop")).to_be_hidden()


# ---------------------------------------------------------------------------- results
def test_empty_form_asks_more_with_next_questions_and_no_band(page: Any, server: Any, artifacts: Path) -> None:
    sign_in(page, server)
    page.check("#consent")
    page.select_option("#f-migrant_status", "returnee")
    body = submit(page)
    assert body["answers"] == {}, "an unselected question is not sent"
    assert body["danger"] == "not_asked"
    expected = replay(server, body)
    assert expected["recommendation"]["status"] == "ask_more", "an empty interview cannot settle anything"
    assert_result_matches(page, expected)
    assert page.locator(".band").count() == 0
    assert page.locator("#next-questions li").count() >= 1
    assert page.locator("#next-box").is_visible()
    # Not settled: the tier it leans to, marked as such, never as the next step.
    assert expected["recommendation"]["tier"] is None
    expect(page.locator("#rec-tier .is-leaning")).to_be_visible()
    assert "Not settled" in page.locator("#rec-tier").inner_text()
    assert "0" in page.locator("#interview").inner_text()
    assert page.evaluate("document.activeElement.id") == "result-h", "focus moves to the result heading"
    page.screenshot(path=str(artifacts / "result-ask-more-1280.png"), full_page=True)


def test_danger_yes_refers_urgently_whatever_the_score(page: Any, server: Any) -> None:
    sign_in(page, server)
    page.check("#consent")
    page.select_option("#f-migrant_status", "returnee")
    page.check("#danger--yes")
    expect(page.locator("#danger-note")).to_be_visible()
    body = submit(page, "low")
    assert body["danger"] == "yes"
    expected = replay(server, body)
    assert expected["recommendation"]["status"] == "refer"
    assert expected["recommendation"]["urgent"] is True
    assert_result_matches(page, expected)
    expect(page.locator("#urgent")).to_be_visible()
    expect(page.locator("#rec-status")).to_have_attribute("data-status", "refer")
    # In another language the page rebuilds the texts as the API would give them.
    page.select_option("#lang", "ru")
    russian = replay(server, body, lang="ru")["recommendation"]
    expect(page.locator("#rec-status")).to_have_text(russian["status_label"])
    expect(page.locator("#rec-text")).to_have_text(russian["text"])
    expect(page.locator("#urgent")).to_be_visible()


def test_assessment_first_then_high_case_matches_the_api(page: Any, server: Any, artifacts: Path) -> None:
    sign_in(page, server)
    page.check("#consent")
    fill_case(page, HIGH)
    page.click("#submit")
    alert = page.locator("#alert")
    assert alert.is_visible()
    assert "assessment" in alert.inner_text().lower()
    assert page.locator("#result").is_hidden(), "no score may be shown before the screener's own assessment"

    body = submit(page, "high")
    assert body["answers"] == HIGH["answers"]
    assert body["consent"] is True
    expected = replay(server, body)
    assert expected["recommendation"]["status"] == "refer", "HIGH must be referred"
    assert expected["outcomes"]["labour"]["band"] == "high", "HIGH must be high risk"
    assert_result_matches(page, expected)
    bars = page.locator('.outcome[data-outcome="labour"] .reason')
    assert 1 <= bars.count() <= 8
    assert bars.first.locator(".sign").inner_text().startswith("+")

    page.screenshot(path=str(artifacts / "result-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    assert no_horizontal_scroll(page), "the result page scrolls sideways at 360 px"
    page.screenshot(path=str(artifacts / "result-360.png"), full_page=True)
    assert not [e for e in page.console_errors if "Content Security Policy" in e]


def test_result_card_shows_the_tier_and_no_probability_to_a_screener(page: Any, server: Any) -> None:
    sign_in(page, server)
    page.check("#consent")
    page.check("#danger--no")
    fill_case(page, HIGH)
    body = submit(page, "high")
    expected = replay(server, body)
    rec = expected["recommendation"]
    assert (rec["status"], rec["tier"]) == ("refer", "nrm"), "HIGH goes to a specialist assessment"
    assert "probability" not in expected["outcomes"]["labour"], "screeners are not shown probabilities"
    assert_result_matches(page, expected)
    tier = page.locator("#rec-tier")
    expect(tier).to_have_attribute("data-tier", "nrm")
    assert "national referral mechanism" in tier.inner_text()
    assert page.locator(".prob-value, .next-effect").count() == 0
    assert "%" not in page.locator("#result").inner_text(), "no probability, as a number, anywhere on the card"
    # The band words stay, beside the tier, and each language names the tier as the API does.
    assert page.locator('.outcome[data-outcome="labour"] .band').get_attribute("data-band") == "high"
    for lang in ("ru", "tg"):
        page.select_option("#lang", lang)
        translated = replay(server, body, lang=lang)["recommendation"]
        expect(page.locator("#rec-tier .tier")).to_have_text(translated["tier_label"])
        expect(page.locator("#rec-text")).to_have_text(translated["text"])


@pytest.mark.parametrize("lang", ["en", "ru", "tg"])
def test_the_submit_button_describes_signs_and_next_steps_not_risk(page: Any, server: Any, lang: str) -> None:
    sign_in(page, server)
    page.select_option("#lang", lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    label = page.locator("#submit").inner_text().lower()
    assert label.strip()
    for word in ("risk", "риск", "хатар"):
        assert word not in label, (lang, label)


def test_all_no_case_matches_the_api(page: Any, server: Any) -> None:
    case = all_no_case(questionnaire(server, "en"))
    sign_in(page, server)
    page.check("#consent")
    page.check("#danger--no")
    fill_case(page, case)
    body = submit(page, "low")
    assert body["answers"] == case["answers"]
    expected = replay(server, body)
    assert expected["recommendation"]["status"] != "refer"
    assert_result_matches(page, expected)


@pytest.mark.parametrize("lang", ["tg", "ru"])
def test_language_switch_changes_texts_and_keeps_answers(page: Any, server: Any, lang: str) -> None:
    sign_in(page, server)
    page.check("#consent")
    fill_case(page, HIGH)
    page.select_option("#r-deceived_wages", "deferred")
    english = page.locator("#q-documents_withheld legend").inner_text().strip()
    english_consent = page.locator("#consent-box legend").inner_text().strip()
    page.select_option("#lang", lang)
    q = questionnaire(server, lang)
    legend = page.locator("#q-documents_withheld legend")
    expect(legend).to_have_text(question_text(q, "documents_withheld"))
    assert legend.inner_text().strip() != english
    assert page.locator("#consent-box legend").inner_text().strip() != english_consent
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.is_checked("#a-documents_withheld--yes"), "answers survive a language switch"
    assert page.is_checked("#consent")
    assert page.input_value("#r-deceived_wages") == "deferred"
    assert page.input_value("#f-months_abroad") == "14"

    # Reasons come back in the chosen language.
    body = submit(page, "medium")
    assert body["lang"] == lang
    assert_result_matches(page, replay(server, body))
    # Switching back after a result re-renders it from the questionnaire texts, writing nothing.
    page.select_option("#lang", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    english_result = replay(server, body, lang="en")
    first_reason = page.locator('.outcome[data-outcome="labour"] .reason-label').first
    expect(first_reason).to_have_text(str(top_reason(english_result["outcomes"]["labour"])))
    expect(page.locator("#rec-status")).to_have_text(english_result["recommendation"]["status_label"])


def test_decision_is_recorded_once_and_appears_in_the_audit_log(page: Any, server: Any) -> None:
    sign_in(page, server)
    page.check("#consent")
    fill_case(page, HIGH)
    body = submit(page, "high")
    screening_id = page.get_attribute("#result", "data-screening-id")
    assert screening_id
    refer = replay(server, body)["recommendation"]["refer"]

    # A decision against the recommendation needs a reason from the API's list.
    against = "not_referred" if refer else "referred"
    page.check(f"#decision--{against}")
    page.click("#dec-submit")
    assert "reason" in page.locator("#dec-msg").inner_text().lower()
    page.select_option("#dec-reason", "person_declined_referral")
    page.click("#dec-submit")
    expect(page.locator("#dec-msg")).to_contain_text("recorded")
    assert not page.locator("#dec-msg").evaluate("e => e.classList.contains('is-error')")

    page.click("#dec-submit")
    expect(page.locator("#dec-msg")).to_contain_text("already")

    with server.client("reviewer") as client:
        items = client.get("/v1/screenings", params={"page_size": 50}).json()["items"]
    logged = next(i for i in items if i["screening_id"] == screening_id)
    assert logged["decision"] == against
    assert logged["decision_reason"] == "person_declined_referral"
    assert logged["screener_assessment"] == "high"


def test_reviewer_view_lists_screenings_and_says_when_there_is_no_report(page: Any, server: Any) -> None:
    with server.client("screener") as client:
        response = client.post(
            "/v1/screenings",
            json={**HIGH, "consent": True, "danger": "no", "lang": "en", "screener_assessment": "medium"},
        )
    assert response.status_code in (200, 201), response.text
    sign_in(page, server, role="reviewer")
    page.click("#nav-review")
    page.wait_for_selector("#screenings tbody tr")
    with server.client("reviewer") as client:
        report = client.get("/v1/audit/report")
    # The test model carries no fairness report: the page says so, and how one appears.
    assert report.status_code == 404, report.text
    text = page.locator("#report").inner_text().lower()
    assert "no fairness report" in text
    assert "reloaded" in text


def test_a_reviewer_reads_the_reports_answer_first_and_every_figure_below(page: Any, reported_server: Any) -> None:
    """With a report from the real audit, the card says what was audited and the report's answer in
    its own words (marked English), and keeps every figure in a folded list under a label in the
    page's language."""
    audit = reported_server.audit
    answer = audit.answer()
    sign_in(page, reported_server, role="reviewer")
    page.click("#nav-review")
    headline = page.locator("#report .report-headline")
    expect(headline).to_have_text(answer.headline)
    expect(headline).to_have_attribute("lang", "en")
    about = page.locator("#report .report-about").inner_text()
    assert f"{audit.model['name']} {audit.model['version']}" in about
    assert "test rows" in about
    assert f"{audit.rows} rows" in about
    expect(page.locator("#report p[lang=en]").nth(1)).to_have_text(answer.could_see)
    # the disparities found, misses first, in words
    assert answer.misses, "the test report should find a disparity to list"
    found = page.locator("#report .report-found li")
    expect(found).to_have_count(len(answer.misses) + len(answer.false_alarms))
    first = answer.misses[0]
    expect(found.first).to_contain_text(
        f"{first.attribute} {first.group} against {first.reference}, {first.outcome} miss rate"
    )
    details = page.locator("#report details")
    expect(details).not_to_have_attribute("open", "")
    expect(details.locator("summary")).to_have_text("Every figure of the report")
    expect(details.locator("dl.kv dt").first).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator("dl.kv > dt", has_text="answer")).to_be_visible()
    # no script error and nothing refused by the page's CSP (the browser's own favicon request is a 404)
    assert [e for e in page.console_errors if "status of 404" not in e] == []  # type: ignore[attr-defined]


def test_a_screener_reviews_their_own_cases_without_the_fairness_report(page: Any, server: Any) -> None:
    sign_in(page, server)
    with server.client("screener") as client:
        assert client.get("/v1/audit/report").status_code == 403
        own = client.get("/v1/screenings", params={"page_size": 50})
    assert own.status_code == 200
    page.click("#nav-review")
    expect(page.locator("#report-h")).to_be_hidden()
    if own.json()["items"]:
        page.wait_for_selector("#screenings tbody tr")
    expect(page.locator("#list .msg-error")).to_have_count(0)


def test_page_weight_and_draft_survives_a_reload(page: Any, server: Any) -> None:
    sizes: list[int] = []
    page.on("requestfinished", lambda request: sizes.append(len(request.response().body())))
    sign_in(page, server)
    page.wait_for_load_state("networkidle")
    total = sum(sizes)
    print(f"page weight: {total} bytes in {len(sizes)} responses")
    assert total < PAGE_BUDGET_BYTES, f"page weight {total} bytes"

    page.check("#consent")
    page.check("#danger--declined")
    page.check("#a-isolation--yes")
    page.select_option("#r-economic_pressure", "not_reached")
    page.select_option("#f-sector", "agriculture")
    page.fill("#case_ref", "NRM-2026-0099")
    page.dispatch_event("#case_ref", "input")
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, window.sessionStorage))")
    assert "NRM-2026-0099" not in stored, "the draft is kept without the case reference"
    assert server.keys["screener"] not in stored, "the key is kept in memory only"
    assert "isolation" in stored
    page.reload()
    # The key was in the page's memory only: a reload asks for it again, and the draft is back.
    page.wait_for_selector("#apikey")
    assert page.locator("#nav").is_hidden()
    sign_in_again(page, server)
    page.wait_for_selector("#q-isolation")
    assert page.input_value("#case_ref") == ""
    assert page.is_checked("#a-isolation--yes"), "the draft is kept in sessionStorage"
    assert page.is_checked("#consent")
    assert page.is_checked("#danger--declined")
    assert page.input_value("#r-economic_pressure") == "not_reached"
    assert page.input_value("#f-sector") == "agriculture"

    # Clearing an answer returns the question to "not asked".
    page.click("#c-isolation")
    assert page.locator("#q-isolation input:checked").count() == 0
    expect(page.locator("#r-isolation")).to_be_visible()


def test_bad_months_and_no_horizontal_scroll_on_the_form(page: Any, server: Any) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    sign_in(page, server)
    assert no_horizontal_scroll(page), "the questionnaire scrolls sideways at 360 px"
    page.check("#consent")
    page.fill("#f-months_abroad", "700")
    page.check("#assessment--low")
    page.click("#submit")
    assert "600" in page.locator("#alert").inner_text()
    assert page.locator("#result").is_hidden()
    assert page.evaluate("document.activeElement.id") == "f-months_abroad"


def test_the_person_hears_about_the_tool_and_the_screener_sees_it_is_not_validated(page: Any, server: Any) -> None:
    """EU AI Act Art. 26(11): the consent statement tells the person a program suggests, people decide;
    and until a model trained on field records is served, the form says the model is not validated."""
    sign_in(page, server)
    expected = {
        "en": ("A computer program helps me", "not validated for field use"),
        "ru": ("Мне помогает компьютерная программа", "не проверена для работы в поле"),
        "tg": ("Ба ман барномаи компютерӣ кӯмак мекунад", "барои кор дар саҳро санҷида нашудааст"),
    }
    for lang, (told, notice) in expected.items():
        page.select_option("#lang", lang)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator('#consent-box [data-t="consent_5"]')).to_contain_text(told)
        expect(page.locator("#synthetic-notice")).to_be_visible()
        expect(page.locator("#synthetic-notice")).to_contain_text(notice)


def test_the_validation_notice_goes_once_a_field_trained_model_is_served(page: Any, server: Any) -> None:
    def field_trained(route: Any) -> None:
        body = route.fetch().json()
        body["card"]["data"] = {"source": "file", "has_ground_truth": False}
        route.fulfill(json=body)

    page.route("**/v1/model", field_trained)
    sign_in(page, server)
    expect(page.locator("#form-h")).to_be_visible()
    expect(page.locator("#synthetic-notice")).to_be_hidden()


@pytest.mark.parametrize(
    ("lang", "stopped"),
    [("en", "Scoring is stopped"), ("ru", "Оценка остановлена"), ("tg", "Арзёбӣ қатъ шуд")],
)
def test_a_withdrawn_model_stops_the_screening_in_the_screeners_language(
    page: Any, server: Any, lang: str, stopped: str
) -> None:
    withdrawn = {
        "error": {
            "code": "model_withdrawn",
            "message": "tarozu-screening version 1 was withdrawn by key k-admin: complaint under review.",
        }
    }
    page.route("**/v1/screenings", lambda route: route.fulfill(status=503, json=withdrawn))
    sign_in(page, server)
    page.select_option("#lang", lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.check("#consent")
    fill_case(page, HIGH)
    page.check("#assessment--medium")
    page.click("#submit")
    expect(page.locator("#alert")).to_contain_text(stopped)
    expect(page.locator("#alert")).to_contain_text("complaint under review")
    assert page.locator("#result").is_hidden()
