"""The HTML report parses, is self-contained and shows every group."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from pipeline.data.synthetic import generate
from pipeline.fairness.audit import audit_model
from pipeline.fairness.log_audit import audit_screenings
from pipeline.fairness.report import render_html, write_report
from tests.fairness.conftest import make_model


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_model_report_parses_and_contains_every_group(tmp_path) -> None:
    frame = generate(rows=3000, seed=3, scenario="bias-gender")
    audit = audit_model(model=make_model(), frame=frame, n_boot=30)
    html_path, json_path = write_report(audit, tmp_path)
    parser = _Collect()
    parser.feed(html_path.read_text(encoding="utf-8"))
    text = " ".join(parser.text)
    assert parser.external == []
    assert "@media print" in text
    for attribute, entry in audit["observed"]["attributes"].items():
        for rows in entry["outcomes"].values():
            for row in rows:
                assert row["group"] in text, (attribute, row["group"])
    assert "identification bias" in text
    assert json.loads(json_path.read_text(encoding="utf-8"))["rows"] == 3000


def test_screening_log_audit_shows_process_by_group() -> None:
    frame = generate(rows=500, seed=2)
    rows = []
    for i, record in enumerate(frame.to_dict("records")):
        refer = i % 3 == 0
        rows.append(
            {
                **record,
                "labour_probability": (i % 10) / 10,
                "sexual_probability": (i % 7) / 10,
                "refer": refer,
                "screener_assessment": ["low", "medium", "high"][i % 3],
                "decision": ["referred", "not_referred", None][i % 3 if i % 5 else 1],
                "override_reason": "screener_judgement",
                "created_at": f"2026-01-{i % 28 + 1:02d}",
            }
        )
    training = frame.assign(labour_probability=0.1, sexual_probability=0.05)
    audit = audit_screenings(rows=rows, training_frame=training)
    genders = {g["group"] for g in audit["by_group"]["gender"]}
    assert genders == set(frame["gender"])
    assert 0 < audit["overall"]["override_share"] < 1
    assert audit["drift"]["fields"]
    assert audit["drift"]["scores"]
    html = render_html(audit)
    _Collect().feed(html)
    assert "model_would_refer" in html
