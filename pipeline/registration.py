"""Writing to the model registry: experiments, logging and registering a model, moving aliases.

Reading a registered model back is :mod:`serving.registry`, which both the API and the
pipeline use.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow

from models.screening import ScreeningModel
from pipeline.pyfunc import ARTIFACT_KEY, input_example, signature_for
from serving.registry import client, resolve_tracking_uri

PIP_REQUIREMENTS = ["tarozu", "mlflow==3.17.2", "numpy", "pandas", "pyyaml"]
MODEL_CODE = """\
import mlflow

from pipeline.pyfunc import TarozuPyfunc

mlflow.models.set_model(TarozuPyfunc())
"""
"""The pyfunc's code, logged with each model (the wrapper is installed with Tarozu)."""


def ensure_experiment(name: str, uri: str | None = None) -> str:
    """The experiment's id, creating it with artifacts in ``./mlartifacts`` when new."""
    c = client(uri)
    found = c.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if resolve_tracking_uri(uri).startswith("sqlite:"):
        location = (Path.cwd() / "mlartifacts").as_uri()
    return str(c.create_experiment(name, artifact_location=location))


def log_screening_model(model: ScreeningModel, *, registered_name: str | None) -> tuple[str | None, str]:
    """Log the pyfunc (and register it when ``registered_name`` is given) in the active run.

    Returns ``(version or None, model_uri)``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "screening_model.json"
        model.save(path)
        # The wrapper is logged as code (MLflow's "models from code"), not as a pickle:
        # loading the model runs MODEL_CODE instead of unpickling arbitrary objects.
        code = Path(tmp) / "tarozu_pyfunc.py"
        code.write_text(MODEL_CODE, encoding="utf-8")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(code),
            artifacts={ARTIFACT_KEY: str(path)},
            signature=signature_for(model),
            input_example=input_example(model),
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=registered_name,
        )
    version = str(info.registered_model_version) if registered_name else None
    return version, info.model_uri


def set_alias(*, name: str, alias: str, version: str, uri: str | None = None) -> None:
    client(uri).set_registered_model_alias(name, alias, version)
