"""Bulk scoring is not screening: what a batch (``POST /v1/batch``) or a scored register
(``tarozu score``) may not carry, and why. Kept light (no pydantic, no web framework) so that the
command's start does not pay for the API's schemas."""

from __future__ import annotations

BULK_ONLY_FIELDS: tuple[str, ...] = ("screener_assessment", "case_ref")
"""Fields of a screening that a bulk case may not have: the screener's own assessment and a case reference."""
BULK_NOT_SCREENING = (
    "a batch is bulk scoring, not screening: it is for data scientists, on data that is not about people "
    "being screened now, and nothing is kept per case, so its cases may not carry {fields}. Screen a person "
    "one at a time with POST /v1/screenings, where the screener's own assessment is recorded before the score."
)
