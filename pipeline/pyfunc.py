"""The MLflow pyfunc wrapper: explained scores from ``mlflow models serve`` and ``spark_udf`` too.

The registered artifact is the JSON of a :class:`models.screening.ScreeningModel`; the
wrapper encodes each input row and returns :meth:`models.engine.ScreeningEngine.flat` of
it, the same records that Tarozu's ``/invocations`` returns, ``referral_tier`` included: batch users
see the same decision rule as the API. It scores through :class:`models.bulk.BulkScorer` (the
engine's records as columns, vectorised), so ``tarozu score`` on one machine and on Spark
(``mlflow.pyfunc.spark_udf`` of this model) run the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ColSpec, Schema

from models.bulk import BulkScorer, encode_frame
from models.engine import ScreeningEngine
from models.screening import ScreeningModel

ARTIFACT_KEY = "screening_model"
OPTIONAL_OUTPUTS = frozenset({"referral_tier"})


def input_frame_to_codes(model: ScreeningModel, frame: pd.DataFrame) -> Any:
    """Level codes of each row of ``frame`` (columns are field ids; absent ones are not asked)."""
    records = frame.to_dict(orient="records")
    return np.vstack([model.encode(_clean(r)) for r in records]) if records else np.zeros((0, len(model.fields)))


def _clean(record: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): (None if v is None or (isinstance(v, float) and v != v) else v) for k, v in record.items()}


class TarozuPyfunc(PythonModel):
    """Scores a DataFrame of cases with both outcomes, bands, top reasons and the referral tier."""

    def load_context(self, context: Any) -> None:
        self.model = ScreeningModel.load(context.artifacts[ARTIFACT_KEY])
        self.scorer = ScreeningEngine(self.model)
        self.bulk = BulkScorer(self.scorer)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        known = [c for c in frame.columns if c in set(self.model.fields)]
        return self.bulk.score(encode_frame(self.scorer, frame[known]))


def signature_for(model: ScreeningModel) -> ModelSignature:
    """Inputs: one optional string column per feature field; outputs: the flat prediction columns.

    ``referral_tier`` is optional: it is null while a case is not settled (``leaning_tier`` then
    says where it points, not final), as in the API.

    ``months_abroad`` is a string too, holding months ("14") or a bin name ("13_24"), so that
    both the raw form and Tarozu's canonical frames pass MLflow's schema enforcement.
    """
    inputs = Schema([ColSpec("string", f, required=False) for f in model.fields])
    scorer = ScreeningEngine(model)
    example = scorer.flat(scorer.assess(model.encode({"migrant_status": "returnee"})))
    outputs = Schema(
        [
            ColSpec(
                "boolean" if isinstance(v, bool) else "double" if isinstance(v, float) else "string",
                k,
                required=k not in OPTIONAL_OUTPUTS,
            )
            for k, v in example.items()
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(model: ScreeningModel) -> pd.DataFrame:
    row: dict[str, Any] = {f: model.encoder.fields[j].reference for j, f in enumerate(model.fields)}
    row.update(
        {
            "documents_withheld": "yes",
            "excessive_hours": "yes",
            "migrant_status": "returnee",
            "destination": "RUS",
            "sector": "construction",
            "months_abroad": "14",
        }
    )
    return pd.DataFrame([{k: v for k, v in row.items() if k in model.fields}])
