"""``tarozu export --from-log``: screenings with specialist outcomes, as anonymised training data
(``--format tarozu``, the default) or as HTCDS case data (``--format htcds``, see :mod:`pipeline.htcds`).

Only referred people get a specialist assessment, so only they have outcomes (selective
labels). The export says how many screened people were not referred and so have none; the
training run and the model card repeat it. Nothing that identifies a case leaves the log:
no screening ids, case references, key ids or times, only the (corrected) answers, context,
audit attributes and the outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd

from models.outcomes import OTHER_FINDINGS, OUTCOME_LABELS
from models.questionnaire import load_questionnaire
from pipeline.data.schema import validate_frame
from pipeline.errors import CommandError
from pipeline.fairness.field import FOLLOW_UP_RATE, in_follow_up_sample
from serving.auditlog.database import make_engine
from serving.auditlog.queries import flat_values, iter_screenings
from serving.settings import database_url as default_database_url

FORMATS = ("tarozu", "htcds")
NO_OUTCOMES = (
    "the audit log has no screening with a known specialist outcome in that period "
    "({screened} screened, {referred} referred); nothing to export"
)
OTHER_FINDINGS_NOTE = (
    "Of the exported people, {other} had a finding other than trafficking ({counts}): labelled not "
    "trafficked (0, 0) like 'none', and counted apart from it in the report's outcome counts."
)
SELECTIVE_LABELS = (
    "Selective labels: outcomes exist mostly for referred people. Of {screened} screenings, {referred} were "
    "referred and {with_outcome} have a known outcome, {follow_up} of them from the random follow-up of "
    "unreferred people (rate {follow_up_rate:g}); the other unreferred screenings have no outcome and are not "
    "in this data."
)


def screenings_with_outcomes(
    *, database_url: str | None, start: datetime | None, end: datetime | None
) -> Iterator[dict[str, Any]]:
    """Every screening of the period: current values, decision and latest outcome."""

    engine = make_engine(database_url or default_database_url())
    try:
        for _item, full in iter_screenings(engine, start=start, end=end):
            yield full
    finally:
        engine.dispose()


def export_frame(
    screenings: list[dict[str, Any]], *, follow_up_rate: float = FOLLOW_UP_RATE
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The Tarozu frame of screenings with a known outcome, and the counts behind it.

    ``follow_up`` counts the exported unreferred people of the random follow-up sample
    (:func:`pipeline.fairness.field.in_follow_up_sample`): the only outcomes that say how
    many victims the screening missed, and what lets training on this data be registered.
    """
    q = load_questionnaire()
    rows = []
    referred = follow_up = 0
    by_outcome = dict.fromkeys(OUTCOME_LABELS, 0)
    for s in screenings:
        decision = (s.get("decision") or {}).get("decision")
        referred += decision == "referred"
        outcomes = [o["outcome"] for o in s.get("outcomes", []) if o["outcome"] in OUTCOME_LABELS]
        if not outcomes:
            continue
        flat = flat_values(s["current"])
        row: dict[str, Any] = {f.id: f.normalise(flat.get(f.id)) for f in q.all_fields}
        row["is_labour"], row["is_sexual"] = OUTCOME_LABELS[outcomes[-1]]
        follow_up += decision != "referred" and in_follow_up_sample(str(s["screening_id"]), follow_up_rate)
        by_outcome[outcomes[-1]] += 1
        rows.append(row)
    counts: dict[str, Any] = {
        "screened": len(screenings),
        "referred": referred,
        "with_outcome": len(rows),
        "unreferred": len(screenings) - referred,
        "follow_up": follow_up,
        "follow_up_rate": follow_up_rate,
        "outcomes": by_outcome,
    }
    if not rows:
        raise CommandError(NO_OUTCOMES.format(**counts))
    return validate_frame(pd.DataFrame(rows)), counts


def other_findings_note(counts: dict[str, Any]) -> str | None:
    """What the export did with findings other than trafficking, when there are any."""
    found = {o: counts["outcomes"][o] for o in OTHER_FINDINGS if counts["outcomes"].get(o)}
    if not found:
        return None
    listed = ", ".join(f"{o} {n}" for o, n in found.items())
    return OTHER_FINDINGS_NOTE.format(other=sum(found.values()), counts=listed)
