"""Reading the model registry: ``name@alias`` (or a version) to a loaded :class:`ScreeningModel`.

The one place where a registered model is read back, by the API, ``tarozu promote``,
``tarozu score``, ``tarozu audit`` and the audit log's recomputation alike. Writing to the
registry (logging, registering, moving aliases) is :mod:`pipeline.registration`.

Embedded default: a SQLite tracking database ``mlflow.db`` and artifacts in
``mlartifacts/``, both in the working directory; ``MLFLOW_TRACKING_URI`` overrides.
Promotion uses aliases (``@challenger``, ``@champion``), never stages. MLflow itself is
imported only when the fast SQL path cannot answer (importing it takes seconds: the API's
start-up would pay for it).

A model travels with what its run documents: the model card (``model_card/model_card.json``)
and the fairness report (``fairness/report.{json,html}``, written by ``tarozu train`` and
replaced by ``tarozu audit --model``) are read with it, from the run's local directory on the
fast path and through MLflow's client otherwise.
"""

from __future__ import annotations

import json
import logging
import os
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


BAD_MODEL_URI = "the model {uri!r} is not a registry address: expected models:/NAME@ALIAS or models:/NAME/VERSION"


class NoChampionError(LookupError):
    """The registry has no model under the requested alias."""


class BrokenModelError(ValueError):
    """A registered model's artifact is missing or corrupt."""


@dataclass(frozen=True)
class FairnessReport:
    """A model's fairness report as its run keeps it: the bytes of ``report.json`` and ``report.html``."""

    json: bytes
    html: bytes


@dataclass(frozen=True)
class RegisteredModel:
    """A screening model as loaded from the registry, with where it came from and what documents it.

    ``card`` is the run's model card as JSON (empty when the run has none); ``fairness_report``
    the run's fairness report, or None when the run has none.
    """

    model: ScreeningModel
    name: str
    version: str
    alias: str
    run_id: str
    card: dict[str, Any] = field(default_factory=dict)
    fairness_report: FairnessReport | None = None


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

    # Loading or registering a model "downloads" its few files, with a progress bar each time
    # (every train and promote); MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=true brings it back.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    resolved = resolve_tracking_uri(uri)
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    return MlflowClient(tracking_uri=resolved, registry_uri=resolved)


def alias_version(*, name: str, alias: str, uri: str | None = None) -> Any | None:
    """The model version behind ``name@alias``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client(uri).get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


@dataclass(frozen=True)
class _Located:
    """Where the files of ``name@alias`` are on local disk."""

    version: str
    run_id: str
    model_dir: Path  # holds ``artifacts/screening_model.json``
    card: Path | None  # the run's ``model_card/model_card.json``
    fairness: FairnessReport | None = None  # the run's ``fairness/report.{json,html}``, read


# The registry tables of MLflow's SQL store at the pinned version (workspace "default").
_ALIAS_SQL = """
SELECT mv.version, mv.run_id, mv.status, mv.storage_location, r.artifact_uri
FROM registered_model_aliases a
JOIN model_versions mv ON mv.workspace = a.workspace AND mv.name = a.name AND mv.version = a.version
LEFT JOIN runs r ON r.run_uuid = mv.run_id
WHERE a.workspace = 'default' AND a.name = :name AND a.alias = :alias
"""
_SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
CARD_ARTIFACT = "model_card/model_card.json"
FAIRNESS_ARTIFACTS = ("fairness/report.json", "fairness/report.html")


def _local_dir(uri: str | None) -> Path | None:
    if not uri or not uri.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(uri).path))
    return path if path.is_dir() else None


def _locate_sql(name: str, alias: str, uri: str) -> _Located | None:
    """``name@alias`` read straight from the registry's tables, without importing MLflow.

    Importing MLflow and opening its store take about 2.8 s, most of the API's start-up;
    this query takes milliseconds. It answers only for a SQL tracking store whose version
    is READY with its files on local disk, and returns None otherwise (also when the
    schema is not the one expected), so that :func:`_locate_mlflow` decides. A test checks
    that both give the same answer on a real registry.
    """
    if uri.split(":", 1)[0].split("+", 1)[0] not in _SQL_SCHEMES:
        return None
    if os.environ.get("MLFLOW_WORKSPACE", "default") != "default":
        return None  # the query reads MLflow's default workspace only
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(uri)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None  # let MLflow create (or refuse) the store, as it always has
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError):  # e.g. no driver for the URI here: MLflow's client decides
        return None
    try:
        with engine.connect() as conn:
            row = conn.execute(text(_ALIAS_SQL), {"name": name, "alias": alias}).first()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    if row is None or row.status != "READY":
        return None
    model_dir = _local_dir(row.storage_location)
    if model_dir is None:
        return None
    run_dir = _local_dir(row.artifact_uri)
    card = run_dir / CARD_ARTIFACT if run_dir else None
    fairness = run_dir / "fairness" if run_dir else None
    return _Located(
        str(row.version),
        str(row.run_id),
        model_dir,
        card if card and card.is_file() else None,
        _read_report(fairness) if fairness and fairness.is_dir() else None,
    )


def _run_documents(run_id: str) -> tuple[Path | None, FairnessReport | None]:
    """The run's model card (a path) and fairness report through MLflow's client (None: the run has none)."""
    import tempfile

    import mlflow.artifacts

    def fetch(artifact_path: str, into: str | None = None) -> Path | None:
        try:
            return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=into))
        except Exception:  # MLflow raises several types for a missing artifact; a missing one is not an error
            return None

    card = fetch(CARD_ARTIFACT)
    with tempfile.TemporaryDirectory(prefix="tarozu-fairness-") as into:
        fetched = [fetch(path, into) for path in FAIRNESS_ARTIFACTS]
        report = _read_report(fetched[0].parent) if fetched[0] is not None and fetched[1] is not None else None
    return card, report


def _locate_mlflow(name: str, alias: str, uri: str | None) -> _Located | None:
    """``name@alias`` through the MLflow client (any tracking store; downloads if remote)."""
    mv = alias_version(name=name, alias=alias, uri=uri)
    if mv is None:
        return None
    import mlflow.artifacts

    try:
        model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}"))
    except Exception as exc:
        raise BrokenModelError(BROKEN_MODEL.format(name=name, version=mv.version, alias=alias, reason=exc)) from None
    card, fairness = _run_documents(str(mv.run_id))
    return _Located(str(mv.version), str(mv.run_id), model_dir, card, fairness)


def load_registered(
    *, name: str = MODEL_NAME, alias: str = CHAMPION, tracking_uri: str | None = None
) -> RegisteredModel:
    """Load ``models:/<name>@<alias>``; raises :class:`NoChampionError` or :class:`BrokenModelError`."""
    uri = resolve_tracking_uri(tracking_uri)
    located = _locate_sql(name, alias, uri) or _locate_mlflow(name, alias, uri)
    if located is None:
        raise NoChampionError(NO_CHAMPION.format(alias=alias, name=name, uri=_redact(uri)))
    return _load(located, name=name, alias=alias)


def load_version(*, name: str, version: str, tracking_uri: str | None = None) -> RegisteredModel:
    """Load ``models:/<name>/<version>`` (a version, not an alias: what the audit log names);
    raises :class:`NoChampionError` if the registry has no such version, :class:`BrokenModelError`
    if its files cannot be read."""
    from mlflow.exceptions import MlflowException

    uri = resolve_tracking_uri(tracking_uri)
    try:
        mv = client(uri).get_model_version(name, str(version))
    except MlflowException:
        raise NoChampionError(
            f"no version {version} of the model {name!r} in the MLflow registry at {_redact(uri)}"
        ) from None
    import mlflow.artifacts

    try:
        model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}"))
    except Exception as exc:
        raise BrokenModelError(BROKEN_MODEL.format(name=name, version=mv.version, alias="-", reason=exc)) from None
    card, fairness = _run_documents(str(mv.run_id))
    return _load(_Located(str(mv.version), str(mv.run_id), model_dir, card, fairness), name=name, alias="")


def model_versions(*, name: str, tracking_uri: str | None = None) -> list[str]:
    """Every registered version of ``name``, oldest first."""
    found = client(tracking_uri).search_model_versions(f"name='{name}'")
    return sorted((str(mv.version) for mv in found), key=lambda v: (len(v), v))


def _load(located: _Located, *, name: str, alias: str) -> RegisteredModel:
    try:
        model = ScreeningModel.load(located.model_dir / "artifacts" / "screening_model.json")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BrokenModelError(
            BROKEN_MODEL.format(name=name, version=located.version, alias=alias, reason=exc)
        ) from None
    card: dict[str, Any] = {}
    try:
        card = json.loads(located.card.read_text(encoding="utf-8")) if located.card else {}
    except (OSError, ValueError):
        card = {}
    if not card:
        log.warning("model %s version %s has no readable model card artifact", name, located.version)
    return RegisteredModel(
        model=model,
        name=name,
        version=located.version,
        alias=alias,
        run_id=located.run_id,
        card=card,
        fairness_report=located.fairness,
    )


def _read_report(folder: Path) -> FairnessReport | None:
    """The fairness report in ``folder``, or None when it has none or its JSON is not readable."""
    try:
        report = FairnessReport(json=(folder / "report.json").read_bytes(), html=(folder / "report.html").read_bytes())
        json.loads(report.json)
    except (OSError, ValueError):
        log.warning("the fairness report in %s is missing a file or is not JSON; none is served", folder.name)
        return None
    return report


def _redact(uri: str) -> str:
    """A tracking URI without credentials, for messages."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    if not uri.startswith("models:/"):
        raise ValueError(BAD_MODEL_URI.format(uri=uri))
    rest = uri[len("models:/") :].strip("/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        if name and alias and "/" not in alias:
            return name, alias, None
    elif rest.count("/") == 1:
        name, version = rest.split("/")
        if name and version.isdigit():
            return name, None, version
    raise ValueError(BAD_MODEL_URI.format(uri=uri))
