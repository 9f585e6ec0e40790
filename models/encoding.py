"""Encode questionnaire answers as integer level codes, the input of every Tarozu model.

A field's code is the position of its normalised value in ``Field.levels``; the models
see one integer column per field and never the raw strings, so the same encoding serves
training (a DataFrame at a time) and the API (one dict at a time, without pandas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from models.questionnaire import Field, QuestionnaireError, load_questionnaire

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

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Codes for a frame of normalised level strings (one column per field)."""
        import pandas as pd

        missing = [f for f in self.field_ids if f not in frame.columns]
        if missing:
            raise QuestionnaireError(f"columns missing from the data: {missing}")
        out = {}
        for f in self.fields:
            codes = pd.Categorical(frame[f.id], categories=list(f.levels)).codes
            if (codes < 0).any():
                bad = sorted(set(frame.loc[codes < 0, f.id].astype(str)))[:5]
                raise QuestionnaireError(
                    f"field {f.id!r}: values {bad} are not allowed; allowed values are {list(f.levels)}"
                )
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
