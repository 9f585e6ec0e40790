"""Encode questionnaire answers as integer level codes, the input of every Tarozu model.

A field's code is the position of its normalised value in ``Field.levels``; the models
see one integer column per field and never the raw strings, so the same encoding serves
training (a DataFrame at a time) and the API (one dict at a time, without pandas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from models.questionnaire import DECLINED, DONT_KNOW, Field, QuestionnaireError, load_questionnaire

if TYPE_CHECKING:  # pandas is needed for frames only; the API encodes single cases without it
    import pandas as pd

NOT_A_FEATURE = "field {field!r} cannot be a model feature: it is not in the questionnaire"


class FieldEncoder:
    """Maps values of the given questionnaire fields to integer level codes.

    Parameters
    ----------
    field_ids
        The model's feature fields, in column order.
    """

    def __init__(self, field_ids: Sequence[str]) -> None:
        q = load_questionnaire()
        self.fields: tuple[Field, ...] = tuple(q.field(f) for f in field_ids)
        self.field_ids: tuple[str, ...] = tuple(field_ids)
        self._codes: list[dict[str, int]] = [{lv: i for i, lv in enumerate(f.levels)} for f in self.fields]

    @property
    def categories(self) -> list[np.ndarray]:
        """Per field, the codes it can take (for scikit-learn's ``categories``)."""
        return [np.arange(len(f.levels)) for f in self.fields]

    @property
    def n_levels(self) -> tuple[int, ...]:
        return tuple(len(f.levels) for f in self.fields)

    @property
    def reference_codes(self) -> np.ndarray:
        """Per field, the code of its reference level (not asked / not recorded): always the last."""
        return np.array([len(f.levels) - 1 for f in self.fields], dtype=np.int64)

    def codes_of(self, level: str) -> list[tuple[int, int]]:
        """``(column, code)`` of ``level`` in every indicator column (e.g. every ``dont_know``)."""
        return [(j, f.levels.index(level)) for j, f in enumerate(self.fields) if f.kind == "indicator"]

    @property
    def dont_know_codes(self) -> list[tuple[int, int]]:
        return self.codes_of(DONT_KNOW)

    def fold_declined(self, codes: pd.DataFrame) -> pd.DataFrame:
        """Codes with every ``declined`` answer as ``not_asked``: what models are trained on.

        Declining is the person's right and never evidence, so a model must learn nothing
        from it: with it folded into the reference level, its weight is exactly 0.
        """
        out = codes.copy()
        for j, code in self.codes_of(DECLINED):
            column = out.columns[j]
            out[column] = out[column].where(out[column] != code, len(self.fields[j].levels) - 1)
        return out

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Codes for a frame of normalised level strings (one column per field)."""
        import pandas as pd

        missing = [f for f in self.field_ids if f not in frame.columns]
        if missing:
            raise QuestionnaireError(f"columns missing from the data: {missing}")
        out = {}
        for f in self.fields:
            outside = ~frame[f.id].isin(f.levels)
            if outside.any():
                bad = sorted(set(frame.loc[outside, f.id].astype(str)))[:5]
                raise QuestionnaireError(
                    f"field {f.id!r}: values {bad} are not allowed; allowed values are {list(f.levels)}"
                )
            codes = pd.Categorical(frame[f.id], categories=list(f.levels)).codes
            out[f.id] = codes.astype(np.int64)
        return pd.DataFrame(out, index=frame.index)

    def encode_case(self, values: Mapping[str, Any]) -> np.ndarray:
        """Codes for one case given as ``{field: raw value}``; absent fields are unknown.

        Raw values are normalised (``months_abroad`` given in months is binned), so the
        API can pass what the client sent.
        """
        return np.fromiter(
            (codes[f.normalise(values.get(f.id))] for f, codes in zip(self.fields, self._codes, strict=True)),
            dtype=np.int64,
            count=len(self.fields),
        )

    def decode(self, codes: Sequence[int]) -> dict[str, str]:
        return {f.id: f.levels[int(c)] for f, c in zip(self.fields, codes, strict=True)}
