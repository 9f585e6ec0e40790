"""Column names of the Tarozu frame, derived from the questionnaire, and the data errors.

The Tarozu frame ("canonical frame") holds one row per screened person: every questionnaire
field (indicators, context, monitoring) as a string level from :attr:`Field.levels`, the observed
labels and, for synthetic data, the generator's ground truth. Nothing here lists indicators
by hand: field columns come from :func:`models.questionnaire.load_questionnaire`.
"""

from __future__ import annotations

from models.questionnaire import Field, load_questionnaire

LABELS: dict[str, str] = {"labour": "is_labour", "sexual": "is_sexual"}
"""Observed label column of each outcome."""
TRUTH: dict[str, str] = {"labour": "true_labour", "sexual": "true_sexual"}
"""Ground-truth column of each outcome (synthetic data only)."""
GROUND_TRUTH_P: dict[str, str] = {"labour": "p_labour", "sexual": "p_sexual"}
"""The generator's exact probability of each outcome (synthetic data only)."""
LABEL_COLUMNS: tuple[str, str] = (LABELS["labour"], LABELS["sexual"])
TRUTH_COLUMNS: tuple[str, str] = (TRUTH["labour"], TRUTH["sexual"])
PROBABILITY_COLUMNS: tuple[str, str] = (GROUND_TRUTH_P["labour"], GROUND_TRUTH_P["sexual"])
GROUP_COLUMN = "group_id"
YEAR_COLUMN = "year"
OPTIONAL_COLUMNS: tuple[str, ...] = (*TRUTH_COLUMNS, *PROBABILITY_COLUMNS, GROUP_COLUMN, YEAR_COLUMN)
INTEGER_COLUMNS: tuple[str, ...] = (*LABEL_COLUMNS, *TRUTH_COLUMNS, GROUP_COLUMN, YEAR_COLUMN)
FLOAT_COLUMNS: tuple[str, ...] = PROBABILITY_COLUMNS
OUTCOME_OF_LABEL: dict[str, str] = {"is_labour": "labour", "is_sexual": "sexual"}

SOURCES: tuple[str, ...] = ("synthetic", "ctdc", "field")


class FrameValidationError(ValueError):
    """Data that does not fit the Tarozu frame: the message names the column and the fix."""


class DataFormatError(ValueError):
    """A data file whose layout or coding Tarozu does not recognise."""


def fields() -> tuple[Field, ...]:
    """Every questionnaire field in declaration order: indicators, context, audit."""
    return load_questionnaire().all_fields


def field_columns() -> tuple[str, ...]:
    """The string columns of the frame: one per questionnaire field."""
    return tuple(f.id for f in fields())


def required_columns() -> tuple[str, ...]:
    """Columns every Tarozu frame must hold: all fields and the two observed labels."""
    return (*field_columns(), *LABEL_COLUMNS)


def canonical_order(columns: list[str] | tuple[str, ...]) -> list[str]:
    """``columns`` sorted in the frame's canonical order (unknown names last, as given)."""
    order = {name: i for i, name in enumerate((*required_columns(), *OPTIONAL_COLUMNS))}
    return sorted(columns, key=lambda c: order.get(c, len(order)))
