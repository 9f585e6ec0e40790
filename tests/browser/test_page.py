"""The screening page in a real browser: sign in, screen, explain, decide, review, languages.

Everything the page shows is checked against what the API itself answers for the same case,
so the tests hold for any test model, not for numbers copied from one.
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
        "forced_tasks_or_clients": "yes",
        "threats": "yes",
    },
    "context": {
        "migrant_status": "returnee",
        "destination": "RUS",
        "sector": "construction",
        "months_abroad": 14,
    },
}
LOW = {
    "answers": {
        "documents_withheld": "no",
        "debt_bondage": "no",
        "movement_restricted": "no",
        "excessive_hours": "no",
        "sexual_violence": "no",
        "physical_violence": "no",
        "threats": "no",
    },
    "context": {"migrant_status": "prospective", "destination": "KAZ", "months_abroad": 0},
}
PAGE_BUDGET_BYTES = 200_000


# ---------------------------------------------------------------------------- helpers
def sign_in(page: Any, server: Any, role: str = "screener") -> None:
    page.goto(server.url + "/")
    page.fill("#apikey", server.keys[role])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")


def fill_case(page: Any, case: dict[str, Any]) -> None:
    page.wait_for_selector("#q-documents_withheld")
    for field, answer in case["answers"].items():
        page.check(f"#a-{field}--{answer}")
    for field, value in case["context"].items():
        selector = f"#f-{field}"
        if page.get_attribute(selector, "type") == "number":
            page.fill(selector, str(value))
        else:
            page.select_option(selector, value)


def submit_with_assessment(page: Any, assessment: str) -> None:
    page.check(f"#assessment--{assessment}")
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden]) .outcome")


def api_result(server: Any, case: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    with server.client("screener") as client:
        response = client.post("/v1/screenings", json={**case, "lang": lang, "screener_assessment": "medium"})
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


def top_reason(outcome: dict[str, Any]) -> str:
    nonzero = [c for c in outcome["explanation"]["contributions"] if abs(c["contribution"]) > 1e-9]
    return max(nonzero, key=lambda c: abs(c["contribution"]))["reason"]


def shown_outcome(page: Any, name: str) -> tuple[str, str, str]:
    card = page.locator(f'.outcome[data-outcome="{name}"]')
    return (
        card.locator(".band").get_attribute("data-band"),
        card.locator(".band-text").inner_text().strip(),
        card.locator(".reason-label").first.inner_text().strip(),
    )


def no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# ---------------------------------------------------------------------------- tests
def test_assessment_first_then_high_case_matches_the_api(page: Any, server: Any, artifacts: Path) -> None:
    sign_in(page, server)
    fill_case(page, HIGH)
    page.click("#submit")
    alert = page.locator("#alert")
    assert alert.is_visible()
    assert "assessment" in alert.inner_text().lower()
    assert page.locator("#result").is_hidden(), "no score may be shown before the screener's own assessment"

    submit_with_assessment(page, "high")
    assert page.evaluate("document.activeElement.id") == "result-h", "focus moves to the result heading"
    expected = api_result(server, HIGH)
    assert expected["outcomes"]["labour"]["band"] == "high", "HIGH must be high risk"
    for name, outcome in expected["outcomes"].items():
        band, band_text, reason = shown_outcome(page, name)
        assert band == outcome["band"]
        assert band_text == outcome["band_label"]
        assert reason == top_reason(outcome)
    assert page.locator("#rec-text").inner_text().strip() == expected["recommendation"]["text"]
    assert page.locator("#caveat").inner_text().strip() == expected["caveat"]
    bars = page.locator('.outcome[data-outcome="labour"] .reason')
    assert 1 <= bars.count() <= 8
    assert bars.first.locator(".sign").inner_text().startswith("+")

    page.screenshot(path=str(artifacts / "result-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    assert no_horizontal_scroll(page), "the result page scrolls sideways at 360 px"
    page.screenshot(path=str(artifacts / "result-360.png"), full_page=True)
    assert not [e for e in page.console_errors if "Content Security Policy" in e]


def test_low_case_matches_the_api(page: Any, server: Any) -> None:
    sign_in(page, server)
    fill_case(page, LOW)
    submit_with_assessment(page, "low")
    expected = api_result(server, LOW)
    assert expected["outcomes"]["labour"]["band"] == "low"
    for name, outcome in expected["outcomes"].items():
        band, band_text, reason = shown_outcome(page, name)
        assert (band, band_text) == (outcome["band"], outcome["band_label"])
        assert reason == top_reason(outcome)
    assert page.locator("#rec-text").inner_text().strip() == expected["recommendation"]["text"]


@pytest.mark.parametrize("lang", ["tg", "ru"])
def test_language_switch_changes_texts_and_keeps_answers(page: Any, server: Any, lang: str) -> None:
    sign_in(page, server)
    fill_case(page, HIGH)
    english = page.locator("#q-documents_withheld legend").inner_text().strip()
    page.select_option("#lang", lang)
    q = questionnaire(server, lang)
    legend = page.locator("#q-documents_withheld legend")
    expected = question_text(q, "documents_withheld")
    expect(legend).to_have_text(expected)
    assert legend.inner_text().strip() != english
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.is_checked("#a-documents_withheld--yes"), "answers survive a language switch"
    assert page.input_value("#f-months_abroad") == "14"

    # Reasons come back in the chosen language.
    submit_with_assessment(page, "medium")
    expected_result = api_result(server, HIGH, lang=lang)
    _band, band_text, reason = shown_outcome(page, "labour")
    assert band_text == expected_result["outcomes"]["labour"]["band_label"]
    assert reason == top_reason(expected_result["outcomes"]["labour"])
    # Switching back after a result re-renders it from the questionnaire texts, writing nothing.
    page.select_option("#lang", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    english_result = api_result(server, HIGH, lang="en")
    first_reason = page.locator('.outcome[data-outcome="labour"] .reason-label').first
    expect(first_reason).to_have_text(top_reason(english_result["outcomes"]["labour"]))


def test_decision_is_recorded_once_and_appears_in_the_audit_log(page: Any, server: Any) -> None:
    sign_in(page, server)
    fill_case(page, HIGH)
    submit_with_assessment(page, "high")
    screening_id = page.get_attribute("#result", "data-screening-id")
    assert screening_id

    # The recommendation is to refer: "not referred" needs a reason from the API's list.
    page.check("#decision--not_referred")
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
    assert logged["decision"] == "not_referred"
    assert logged["decision_reason"] == "person_declined_referral"
    assert logged["screener_assessment"] == "high"


def test_reviewer_view_lists_screenings_and_says_when_there_is_no_report(page: Any, server: Any) -> None:
    api_result(server, LOW)
    sign_in(page, server, role="reviewer")
    page.click("#nav-review")
    page.wait_for_selector("#screenings tbody tr")
    with server.client("reviewer") as client:
        report = client.get("/v1/audit/report")
    if report.status_code == 404:
        assert "no fairness report" in page.locator("#report").inner_text().lower()
    else:
        assert report.status_code == 200
        assert page.locator("#report dl").count() == 1


def test_page_weight_and_draft_survives_a_reload(page: Any, server: Any) -> None:
    sizes: list[int] = []
    page.on("requestfinished", lambda request: sizes.append(len(request.response().body())))
    sign_in(page, server)
    page.wait_for_selector("#q-documents_withheld")
    page.wait_for_load_state("networkidle")
    total = sum(sizes)
    print(f"page weight: {total} bytes in {len(sizes)} responses")
    assert total < PAGE_BUDGET_BYTES, f"page weight {total} bytes"

    page.check("#a-isolation--yes")
    page.select_option("#f-sector", "agriculture")
    page.reload()
    page.wait_for_selector("#q-isolation")
    assert page.is_checked("#a-isolation--yes"), "the draft is kept in sessionStorage"
    assert page.input_value("#f-sector") == "agriculture"


def test_bad_months_and_no_horizontal_scroll_on_the_form(page: Any, server: Any) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    sign_in(page, server)
    page.wait_for_selector("#q-documents_withheld")
    assert no_horizontal_scroll(page), "the questionnaire scrolls sideways at 360 px"
    page.fill("#f-months_abroad", "700")
    page.check("#assessment--low")
    page.click("#submit")
    assert "600" in page.locator("#alert").inner_text()
    assert page.locator("#result").is_hidden()
    assert page.evaluate("document.activeElement.id") == "f-months_abroad"
