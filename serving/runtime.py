"""What the running service holds: the loaded model (swapped atomically) and its services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from models.bulk import BulkScorer
from models.engine import ScreeningEngine
from serving.auditlog.writer import AuditWriter, now
from serving.keys import KeyStore
from serving.registry import RegisteredModel, load_registered
from serving.settings import Settings

ModelLoader = Callable[[Settings], RegisteredModel]


def registry_loader(settings: Settings) -> RegisteredModel:
    """Load ``models:/<name>@<alias>`` from the MLflow registry (the default loader)."""

    return load_registered(name=settings.model_name, alias=settings.model_alias, tracking_uri=settings.tracking_uri)


@dataclass(frozen=True)
class LoadedModel:
    """A registered model prepared for serving. Never mutated: reload swaps the whole object."""

    registered: RegisteredModel
    scorer: ScreeningEngine
    bulk: BulkScorer
    """The same engine's records as columns, for ``/invocations`` (what the MLflow pyfunc scores with). It
    leaves the BLAS threads as the server set them at start (``Settings.blas_threads``)."""
    loaded_at: str

    @classmethod
    def prepare(cls, registered: RegisteredModel) -> LoadedModel:
        """The model ready to score: its engine and the outlook's common draws are made here, while
        loading (before ``/ready``, or off the event loop on a reload), not by the first screening."""
        scorer = ScreeningEngine(registered.model)
        _ = scorer.common_draws
        return cls(registered=registered, scorer=scorer, bulk=BulkScorer(scorer, blas_threads=None), loaded_at=now())

    @property
    def ref(self) -> dict[str, str]:
        return {"name": self.registered.name, "version": str(self.registered.version)}


@dataclass
class Services:
    """Everything the routes need, kept in ``app.state.services`` by the lifespan.

    ``model`` is the one reference that ``POST /v1/admin/reload`` replaces; a request reads
    it once, so it scores, explains and logs with a single model version.
    """

    settings: Settings
    engine: Engine
    writer: AuditWriter
    keys: KeyStore
    loader: ModelLoader
    model: LoadedModel
    hmac_key: bytes
    withdrawals: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """Withdrawn model versions (name, version) and what each withdrawal says; replaced, never mutated."""
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    background: list[asyncio.Task[Any]] = field(default_factory=list)
