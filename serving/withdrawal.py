"""The stop procedure: an admin withdraws the served model version, and nothing is scored with it.

A withdrawal and a reinstatement are chained audit events (``model_events``); the latest event
of a model version is its state, read from the database at start-up and every few seconds (the
API-key refresh interval), so a withdrawal survives restarts and reaches every API process,
including one made with ``tarozu model withdraw`` on the server. While the loaded version is
withdrawn every scoring route answers 503 ``model_withdrawn`` saying when, by which key and why,
and how to resume; ``/ready`` is not ready. The registry alias is left alone: the database is
what a restarted server reads, and a server that cannot load its model could not say why.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from serving.auditlog.model_events import WITHDRAWN, load_withdrawals
from serving.errors import ServiceUnavailableError
from serving.runtime import LoadedModel, Services

logger = logging.getLogger(__name__)


class ModelWithdrawnError(ServiceUnavailableError):
    """503: the served model version was withdrawn; the body says when, by whom, why and how to resume."""

    code = "model_withdrawn"

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(WITHDRAWN.format(**info))
        self.withdrawal = info

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["withdrawal"] = self.withdrawal
        return body


def withdrawal_of(services: Services, loaded: LoadedModel) -> dict[str, Any] | None:
    return services.withdrawals.get((loaded.registered.name, str(loaded.registered.version)))


def ensure_not_withdrawn(services: Services, loaded: LoadedModel) -> None:
    info = withdrawal_of(services, loaded)
    if info is not None:
        raise ModelWithdrawnError(info)


@dataclass
class WithdrawalRefresher:
    """Reads the withdrawals again every ``interval`` seconds (another process may have made one)."""

    services: Services
    interval: float

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval or 1.0)
            try:
                self.services.withdrawals = await asyncio.to_thread(load_withdrawals, self.services.engine)
            except Exception as exc:  # the database may be down for a while; keep the last state
                logger.warning("could not refresh model withdrawals: %s", type(exc).__name__)
