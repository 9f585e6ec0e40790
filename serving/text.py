"""Free text from clients (decision notes, correction and withdrawal reasons, key labels).

Such text is stored in the audit log, shown to other people (reviewers, every caller while a
model is withdrawn) and exported, so it is cleaned before it is validated: control characters
are dropped (NUL among them, which some databases and tools cut strings at), line breaks and
tabs become spaces (a note cannot forge a second line in a log or a CSV), and Unicode
bidirectional controls are dropped (they can make a note read differently from what it
holds, as in "Trojan Source"). Surrounding spaces are trimmed, so text that was only such
characters is empty and refused by the field's minimum length.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

LINE_BREAKS = "\t\n\v\f\r\x85\u2028\u2029"
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_TABLE: dict[int, str | None] = {
    **{code: None for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))},
    **{ord(c): None for c in BIDI_CONTROLS},
    **{ord(c): " " for c in LINE_BREAKS},
}


def clean_text(value: Any) -> Any:
    """``value`` without control or bidi characters, line breaks as spaces, trimmed (non-text as is)."""
    if not isinstance(value, str):
        return value
    return value.translate(_TABLE).strip()


FreeText = Annotated[str, BeforeValidator(clean_text)]
"""A ``str`` field that holds free text: cleaned by :func:`clean_text` before its constraints."""
