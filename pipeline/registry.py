"""The MLflow side of Tarozu: tracking URI, run logging, registration, aliases, loading back.

Embedded default: a SQLite tracking database ``mlflow.db`` and artifacts in
``mlartifacts/``, both in the working directory; ``MLFLOW_TRACKING_URI`` overrides.
Promotion uses aliases (``@challenger``, ``@champion``), never stages.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.screening import ScreeningModel

log = logging.getLogger(__name__)

MODEL_NAME = "tarozu-screening"
CHAMPION = "champion"
CHALLENGER = "challenger"
NO_CHAMPION = (
    "no model has the alias @{alias} under the name {name!r} in the MLflow registry at {uri}. "
    "Train one with `tarozu train` (or `make run`), then promote it with `tarozu promote`."
)
BROKEN_MODEL = (
    "the model {name!r} version {version} (@{alias}) could not be loaded: {reason}. "
    "Retrain with `tarozu train` and promote a working version with `tarozu promote`."
)
PIP_REQUIREMENTS = ["tarozu", "mlflow==3.17.2", "numpy", "pandas", "pyyaml"]


class NoChampionError(LookupError):
    """The registry has no model under the requested alias."""


class BrokenModelError(ValueError):
    """A registered model's artifact is missing or corrupt."""


@dataclass(frozen=True)
class RegisteredModel:
    """A screening model as loaded from the registry, with where it came from."""

    model: ScreeningModel
    name: str
    version: str
    alias: str
    run_id: str
    card: dict[str, Any] = field(default_factory=dict)


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI in force: the argument, ``MLFLOW_TRACKING_URI``, or ``./mlflow.db``."""
    if uri:
        return uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def client(uri: str | None = None) -> Any:
    import mlflow
    from mlflow import MlflowClient

    resolved = resolve_tracking_uri(uri)
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    return MlflowClient(tracking_uri=resolved, registry_uri=resolved)


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
    import mlflow

    from pipeline.pyfunc import ARTIFACT_KEY, TarozuPyfunc, input_example, signature_for

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "screening_model.json"
        model.save(path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=TarozuPyfunc(),
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


def alias_version(*, name: str, alias: str, uri: str | None = None) -> Any | None:
    """The model version behind ``name@alias``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client(uri).get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_registered(
    *, name: str = MODEL_NAME, alias: str = CHAMPION, tracking_uri: str | None = None
) -> RegisteredModel:
    """Load ``models:/<name>@<alias>``; raises :class:`NoChampionError` or :class:`BrokenModelError`."""
    mv = alias_version(name=name, alias=alias, uri=tracking_uri)
    if mv is None:
        raise NoChampionError(
            NO_CHAMPION.format(alias=alias, name=name, uri=_redact(resolve_tracking_uri(tracking_uri)))
        )
    try:
        import mlflow.artifacts

        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}"))
        model = ScreeningModel.load(local / "artifacts" / "screening_model.json")
        card: dict[str, Any] = {}
        try:
            card_path = mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path="model_card/model_card.json"
            )
            card = json.loads(Path(card_path).read_text(encoding="utf-8"))
        except Exception:
            log.warning("model %s version %s has no model card artifact", name, mv.version)
    except (OSError, ValueError, KeyError, Exception) as exc:
        raise BrokenModelError(BROKEN_MODEL.format(name=name, version=mv.version, alias=alias, reason=exc)) from None
    return RegisteredModel(
        model=model, name=name, version=str(mv.version), alias=alias, run_id=str(mv.run_id), card=card
    )


def _redact(uri: str) -> str:
    """A tracking URI without credentials, for messages."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri
