"""``tarozu anonymity-check``: k-anonymity of a data file over its quasi-identifiers.

Before a file leaves the programme (shared with CTDC, published as a sample), check how
re-identifiable its rows are. The quasi-identifiers are the attributes an outsider could
know about a person: gender, age band, citizenship and destination. The k of a table is
the size of its smallest group of rows sharing these values; CTDC's rule is k = 11
(rows in smaller groups are suppressed). "unknown" counts as a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

QUASI_IDENTIFIERS: tuple[str, ...] = ("gender", "age_band", "citizenship", "destination")
CTDC_K = 11

UNKNOWN_COLUMNS = "quasi-identifier(s) {columns} are not columns of the data; columns are {available}"
BAD_K = "k must be a whole number of at least 1, not {k!r}"
NO_QUASI_IDENTIFIERS = "give at least one quasi-identifier"
EMPTY = "the data has no rows: k-anonymity is undefined"


def anonymity_report(
    df: pd.DataFrame, *, quasi_identifiers: Sequence[str] = QUASI_IDENTIFIERS, k: int = CTDC_K
) -> dict[str, Any]:
    """k-anonymity of ``df`` over ``quasi_identifiers`` and the cost of enforcing ``k``.

    Returns
    -------
    dict
        ``rows``; ``quasi_identifiers``; ``k`` (size of the smallest equivalence class);
        ``smallest_group`` (its key, quasi-identifier -> value; the first in sorted order if
        several are as small); ``groups`` (number of classes); ``target_k``;
        ``satisfies_target`` (``k >= target_k``); ``groups_below_target`` and
        ``rows_suppressed`` / ``share_suppressed`` (rows in classes smaller than
        ``target_k``, which CTDC's suppression would drop).
    """
    quasi = list(quasi_identifiers)
    if not quasi:
        raise ValueError(NO_QUASI_IDENTIFIERS)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(BAD_K.format(k=k))
    missing = [c for c in quasi if c not in df.columns]
    if missing:
        raise ValueError(UNKNOWN_COLUMNS.format(columns=missing, available=list(df.columns)))
    if len(df) == 0:
        raise ValueError(EMPTY)
    sizes = df.groupby(quasi, dropna=False, sort=True, observed=True).size()
    smallest = sizes.idxmin()
    key = smallest if isinstance(smallest, tuple) else (smallest,)
    below = sizes[sizes < k]
    return {
        "rows": len(df),
        "quasi_identifiers": quasi,
        "k": int(sizes.min()),
        "smallest_group": {column: str(value) for column, value in zip(quasi, key, strict=True)},
        "groups": len(sizes),
        "target_k": k,
        "satisfies_target": bool(sizes.min() >= k),
        "groups_below_target": len(below),
        "rows_suppressed": int(below.sum()),
        "share_suppressed": float(below.sum() / len(df)),
    }
