"""The outcomes of a specialist assessment: the one list the API, the export and the audit read.

A specialist who assesses a referred person records what they found. Trafficking for labour,
for sexual exploitation or both is what the model screens for; a labour-rights violation that
is not trafficking, or another vulnerability, is a real finding that needs other help, and is
kept apart from ``none`` (nothing found) everywhere: it is neither a confirmed victim nor a
person with no needs. ``unknown`` (not yet known, or the person could not be reached) is no
outcome at all and is superseded by a later one.
"""

from __future__ import annotations

UNKNOWN_OUTCOME = "unknown"
NONE_OUTCOME = "none"

TRAFFICKING_LABELS: dict[str, tuple[int, int]] = {"labour": (1, 0), "sexual": (0, 1), "both": (1, 1)}
"""Trafficking outcomes and their labels ``(is_labour, is_sexual)``."""

OTHER_FINDINGS: tuple[str, ...] = ("labour_rights_violation", "other_vulnerability")
"""Findings that are not trafficking but are not "nothing found" either."""

SPECIALIST_OUTCOMES: tuple[str, ...] = (*TRAFFICKING_LABELS, *OTHER_FINDINGS, NONE_OUTCOME, UNKNOWN_OUTCOME)
"""Every outcome a specialist may record, in the order forms list them."""

TRAFFICKING_OUTCOMES: frozenset[str] = frozenset(TRAFFICKING_LABELS)
OTHER_FINDING_OUTCOMES: frozenset[str] = frozenset(OTHER_FINDINGS)
KNOWN_OUTCOMES: frozenset[str] = frozenset(SPECIALIST_OUTCOMES) - {UNKNOWN_OUTCOME}
"""Outcomes that settle the assessment (every one but ``unknown``)."""

OUTCOME_LABELS: dict[str, tuple[int, int]] = {
    **TRAFFICKING_LABELS,
    **dict.fromkeys(OTHER_FINDINGS, (0, 0)),
    NONE_OUTCOME: (0, 0),
}
"""Labels ``(is_labour, is_sexual)`` of every known outcome: the other findings are not trafficking."""
