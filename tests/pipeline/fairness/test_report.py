"""The HTML report leads with the answer, draws the forest plots inline and shows every group."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from pipeline.config import load_config
from pipeline.data.synthetic import generate
from pipeline.fairness.audit import AuditSettings, ModelAudit, audit_model
from pipeline.fairness.field import FieldReview, in_follow_up_sample, review_screenings
from pipeline.fairness.report import render_html, report_json, write_report
from tests.support.fairness import tuned_model


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.external: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def audit() -> ModelAudit:
    frame = generate(rows=4000, seed=3, scenario="bias-gender")
    return audit_model(
        model=tuned_model(frame), frame=frame, settings=AuditSettings.from_config(load_config(), n_boot=30)
    )


def test_model_report_leads_with_the_answer_then_pictures_then_tables(audit: ModelAudit, tmp_path) -> None:
    html_path, json_path = write_report(audit, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(page)
    text = " ".join(parser.text)
    assert parser.external == []
    assert "@media print" in text
    first_h2 = page.index("<h2>")
    assert page[first_h2:].startswith("<h2>The answer</h2>")
    assert page.index("Does the model miss victims") < page.index("<svg") < page.index("<table")
    assert "{'" not in page[: page.index("<table")]  # no raw Python dict before the tables
    assert page.count("<svg") >= len(audit.attributes)
    assert len(list((tmp_path / "figures").glob("*.svg"))) == len(audit.attributes)
    for table in audit.observed.tables:
        for g in table.groups:
            assert g.group in text, (table.attribute, g.group)
    assert "identification bias" in text.lower()
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert report["rows"] == 4000
    assert report["kind"] == "model"
    assert report["answer"]["headline"] == audit.answer().headline
    assert audit.identification is not None
    assert [f["group"] for f in report["identification"]["flags"]] == [f.group for f in audit.identification.flags]


def _log_rows(n: int, *, follow_up_outcome: str | None) -> list[dict]:
    frame = generate(rows=n, seed=2)
    rows = []
    for i, record in enumerate(frame.to_dict("records")):
        refer = i % 3 == 0
        decision = ["referred", "not_referred", None][i % 3 if i % 5 else 1]
        screening_id = f"00000000-0000-4000-8000-{i:012d}"
        outcome = None
        if decision == "referred":
            outcome = "labour" if i % 2 else "none"
        elif follow_up_outcome and in_follow_up_sample(screening_id, 0.2):
            outcome = follow_up_outcome
        rows.append(
            {
                **record,
                "screening_id": screening_id,
                "labour_probability": (i % 10) / 10,
                "sexual_probability": (i % 7) / 10,
                "refer": refer,
                "screener_assessment": ["low", "medium", "high"][i % 3],
                "decision": decision,
                "override_reason": "answers_unreliable" if record["interview_language"] == "ru" else "other",
                "created_at": f"2026-01-{i % 28 + 1:02d}",
                "outcome": outcome,
            }
        )
    return rows


def test_field_review_shows_overrides_referrals_and_selective_labels_by_group() -> None:
    rows = _log_rows(600, follow_up_outcome=None)
    frame = generate(rows=600, seed=2)
    review = review_screenings(rows=rows, training_frame=frame.assign(labour_probability=0.1, sexual_probability=0.05))
    assert {g.group for g in review.by_group["gender"]} == set(frame["gender"])
    assert 0 < review.overall.override_share < 1
    assert 0 < review.overall.confirmation_rate < 1  # referred: half labour, half none
    assert review.overall.unreferred_without_outcome == 1.0
    by_language = review.overrides_by_group["interview_language"]
    assert {r.reason for r in by_language if r.group == "ru"} == {"answers_unreliable"}
    assert "interview_completeness" in review.by_group
    assert review.follow_up.followed_up == 0
    assert review.follow_up.estimate is None
    assert "cannot be estimated" in review.follow_up.text
    assert review.drift is not None
    assert {s.name for s in review.drift.scores} == {"labour", "sexual"}
    html = render_html(review)
    _Collect().feed(html)
    assert "<h1>Field review of what was screened</h1>" in html
    assert "have no specialist outcome" in html
    assert "answers_unreliable" in html


def test_random_follow_up_outcomes_estimate_victims_among_the_unreferred() -> None:
    review = review_screenings(rows=_log_rows(600, follow_up_outcome="sexual"), follow_up_rate=0.2)
    follow = review.follow_up
    assert 0.1 * follow.unreferred < follow.in_sample < 0.3 * follow.unreferred  # a 20% random sample
    assert follow.followed_up == follow.in_sample
    assert follow.estimate is not None
    assert follow.estimate.share == 1.0
    assert follow.estimate.estimated_missed == follow.unreferred
    assert review.overall.unreferred_without_outcome < 1.0


def test_a_field_review_is_written_and_read_back_through_one_json_form(tmp_path) -> None:
    frame = generate(rows=600, seed=2)
    training = frame.assign(labour_probability=0.1, sexual_probability=0.05)
    for outcome in (None, "sexual"):
        review = review_screenings(rows=_log_rows(600, follow_up_outcome=outcome), training_frame=training)
        _, json_path = write_report(review, tmp_path / str(outcome))
        written = json_path.read_text(encoding="utf-8")
        again = FieldReview.from_json(json.loads(written))
        assert report_json(again) == written
        assert again.follow_up == review.follow_up
        assert again.by_group["gender"][0].group == review.by_group["gender"][0].group
    raw = json.loads(written)
    assert list(raw) == [
        "kind",
        "generated_at",
        "screenings",
        "period",
        "overall",
        "override_reasons",
        "by_group",
        "overrides_by_group",
        "selective_labels",
        "follow_up",
        "drift",
        "psi_thresholds",
        "referral_gaps",
    ]
    assert list(raw["by_group"]["gender"][0])[:4] == [
        "group",
        "screenings",
        "labour_score_median",
        "sexual_score_median",
    ]
    assert raw["follow_up"]["victim_share"] == 1.0


def test_the_field_review_names_a_log_that_does_not_fit_its_layout() -> None:
    rows = _log_rows(30, follow_up_outcome=None)
    with pytest.raises(ValueError, match="lack column"):
        review_screenings(rows=[{k: v for k, v in r.items() if k != "refer"} for r in rows])
    rows[0]["decision"] = "sent_home"
    with pytest.raises(ValueError, match="decision"):
        review_screenings(rows=rows)


def test_a_model_audit_is_written_and_read_back_through_one_json_form(audit: ModelAudit, tmp_path) -> None:
    _, json_path = write_report(audit, tmp_path)
    written = json_path.read_text(encoding="utf-8")
    again = ModelAudit.from_json(json.loads(written))
    assert report_json(again) == written
    assert again.answer().headline == audit.answer().headline
    assert again.settings == audit.settings
    assert [c.verdict for c in again.error_comparisons] == [c.verdict for c in audit.error_comparisons]
