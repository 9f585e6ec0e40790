"""PII guard: refuse data that carries direct identifiers, before it is used or written.

Tarozu works on screening answers only. A file with names, document numbers, contact
details, exact dates of birth, case references or free text must never enter the pipeline,
so :func:`check_no_identifiers` runs first in every loader and writer. Two tests:

- by column name, split into words (``dateOfBirth`` -> date, of, birth): a word or a pair of
  adjacent words that names an identifier;
- by content, under any name: a text column with many long, distinct values (names,
  formatted phone numbers, references) or with sentence-like values (notes, narratives).
  Columns holding only numbers are not text and pass this test: a bare digit string
  under an innocent name is the one identifier it cannot see.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

import pandas as pd

IDENTIFIER_COLUMNS = (
    "refusing data with direct identifiers in column(s) {columns}: Tarozu never holds names, "
    "document or phone numbers, e-mail or postal addresses, exact dates of birth, national ids, "
    "case references or free text. Remove these columns from the source before loading it."
)
FREE_TEXT_COLUMNS = (
    "refusing data whose column(s) {columns} look like identifiers or free text (many long, "
    "distinct strings or sentences): Tarozu holds only coded answers. Remove or recode these "
    "columns before loading the data."
)

# Words that on their own name an identifier.
_WORDS = frozenset(
    {
        "name",
        "names",
        "firstname",
        "lastname",
        "surname",
        "surnames",
        "fullname",
        "givenname",
        "familyname",
        "middlename",
        "patronymic",
        "fio",
        "passport",
        "passportno",
        "passportnumber",
        "phone",
        "phones",
        "phonenumber",
        "telephone",
        "mobile",
        "cellphone",
        "whatsapp",
        "email",
        "emails",
        "address",
        "addresses",
        "street",
        "dob",
        "birthdate",
        "birthday",
        "dateofbirth",
        "nationalid",
        "ssn",
        "note",
        "notes",
        "comment",
        "comments",
        "narrative",
        "narratives",
        "description",
        "remarks",
        "freetext",
        "story",
        "caseref",
        "casereference",
        "caseid",
        "casenumber",
        "caseno",
    }
)
# Adjacent word pairs (after dropping "of") that name an identifier.
_PAIRS = frozenset(
    {
        ("first", "name"),
        ("last", "name"),
        ("full", "name"),
        ("given", "name"),
        ("family", "name"),
        ("birth", "date"),
        ("date", "birth"),
        ("birth", "day"),
        ("national", "id"),
        ("national", "identity"),
        ("national", "number"),
        ("id", "number"),
        ("id", "card"),
        ("identity", "card"),
        ("identity", "number"),
        ("phone", "number"),
        ("e", "mail"),
        ("free", "text"),
        ("case", "ref"),
        ("case", "reference"),
        ("case", "number"),
        ("case", "no"),
        ("case", "id"),
        ("passport", "no"),
    }
)
_STOP = frozenset({"of", "the"})

# Content test thresholds: categorical answers have at most a few dozen levels, so 20
# distinct values with a median of 6+ characters only happen in identifier-like columns.
MIN_DISTINCT = 20
MIN_DISTINCT_SHARE = 0.5
MIN_IDENTIFIER_LENGTH = 6
MIN_TEXT_LENGTH = 30
MIN_TEXT_WORDS = 4
SAMPLE_ROWS = 20_000


def _words(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w and w not in _STOP]


def find_identifier_columns(columns: Iterable[object]) -> list[str]:
    """Column names that name a direct identifier, in the order given."""
    found = []
    for column in columns:
        words = _words(str(column))
        joined = "".join(words)
        if (
            any(w in _WORDS for w in words)
            or joined in _WORDS
            or any(pair in _PAIRS for pair in itertools.pairwise(words))
        ):
            found.append(str(column))
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_text(series: pd.Series) -> bool:
    values = series.head(SAMPLE_ROWS).dropna()
    distinct = [v.strip() for v in values.unique() if isinstance(v, str) and v.strip()]
    if not distinct:
        return False
    sentences = any(len(v) >= MIN_TEXT_LENGTH and len(v.split()) >= MIN_TEXT_WORDS for v in distinct)
    identifier_like = False
    if len(distinct) >= MIN_DISTINCT:
        texts = values[values.map(lambda v: isinstance(v, str))].astype("str").str.strip()
        texts = texts[texts != ""]
        identifier_like = (
            len(distinct) / len(texts) >= MIN_DISTINCT_SHARE and texts.str.len().median() >= MIN_IDENTIFIER_LENGTH
        )
    # Numbers (probabilities, group ids, years) are not text.
    return (identifier_like or sentences) and not all(_is_number(v) for v in distinct)


def find_free_text_columns(df: pd.DataFrame) -> list[str]:
    """Text columns whose content looks like identifiers or free text, under any name."""
    return [
        str(column)
        for column in df.columns
        if (pd.api.types.is_object_dtype(df[column]) or pd.api.types.is_string_dtype(df[column]))
        and _looks_like_text(df[column])
    ]


def check_no_identifiers(df_or_columns: pd.DataFrame | Iterable[object]) -> None:
    """Raise :class:`IdentifierError` if the data (or a list of column names) holds PII.

    Given a DataFrame, both the names and the content of its columns are checked; given
    column names only, the names.
    """
    columns = list(df_or_columns.columns) if isinstance(df_or_columns, pd.DataFrame) else list(df_or_columns)
    named = find_identifier_columns(columns)
    if named:
        raise IdentifierError(IDENTIFIER_COLUMNS.format(columns=named))
    if isinstance(df_or_columns, pd.DataFrame):
        text = find_free_text_columns(df_or_columns)
        if text:
            raise IdentifierError(FREE_TEXT_COLUMNS.format(columns=text))


class IdentifierError(ValueError):
    """Data with direct identifiers or free text, refused before any use."""
