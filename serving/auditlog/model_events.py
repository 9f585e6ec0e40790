"""The model events of the audit log: withdrawals and reinstatements of model versions.

The latest event of a model version is its state. What the API does with a withdrawal is
:mod:`serving.withdrawal`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from serving.apierrors import ConflictError
from serving.auditlog.database import model_events

WITHDRAW, REINSTATE = "withdraw", "reinstate"
ACTIONS = (WITHDRAW, REINSTATE)
CLI_KEY_ID = "cli"
"""The key id recorded for ``tarozu model``: someone with access to the audit database on the server."""

WITHDRAWN = (
    "scoring is stopped: model {model_name} version {model_version} was withdrawn at {withdrawn_at} by key "
    "{key_id} ({role}), because: {reason}. To resume, an admin reinstates it (POST /v1/admin/model:reinstate "
    "or `tarozu model reinstate`), or a data scientist promotes another version (`tarozu promote`) and loads "
    "it (POST /v1/admin/reload)."
)
ALREADY_WITHDRAWN = (
    "model {model_name} version {model_version} is already withdrawn (at {withdrawn_at} by key {key_id})"
)
NOT_WITHDRAWN = "model {name} version {version} is not withdrawn: there is nothing to reinstate"

Version = tuple[str, str]


def withdrawal_info(row: Any) -> dict[str, Any]:
    """What a withdrawal says: which model, when, by whom, why, and how to resume."""
    return {
        "model_name": row.model_name,
        "model_version": row.model_version,
        "withdrawn_at": row.created_at,
        "key_id": row.key_id,
        "role": row.role,
        "reason": row.reason,
        "resume": "an admin reinstates it (POST /v1/admin/model:reinstate or `tarozu model reinstate`), or a "
        "data scientist promotes another version and loads it (tarozu promote, then POST /v1/admin/reload)",
    }


def latest_events(conn: Any, *, name: str | None = None, version: str | None = None) -> dict[Version, Any]:
    """The latest event of each model version (of one name, or one version), in ``seq`` order."""
    query = select(model_events).order_by(model_events.c.seq)
    if name is not None:
        query = query.where(model_events.c.model_name == name)
    if version is not None:
        query = query.where(model_events.c.model_version == version)
    latest: dict[Version, Any] = {}
    for row in conn.execute(query):
        latest[(row.model_name, row.model_version)] = row
    return latest


def load_withdrawals(engine: Engine) -> dict[Version, dict[str, Any]]:
    """Every withdrawn model version and what its withdrawal says."""
    with engine.connect() as conn:
        latest = latest_events(conn)
    return {key: withdrawal_info(row) for key, row in latest.items() if row.action == WITHDRAW}


def check_transition(conn: Any, row: dict[str, Any]) -> None:
    """Refuse (409) withdrawing a withdrawn version or reinstating one that is not withdrawn."""
    name, version = row["model_name"], row["model_version"]
    current = latest_events(conn, name=name, version=version).get((name, version))
    withdrawn = current is not None and current.action == WITHDRAW
    if row["action"] == WITHDRAW and withdrawn:
        raise ConflictError(ALREADY_WITHDRAWN.format(**withdrawal_info(current)), code="already_withdrawn")
    if row["action"] == REINSTATE and not withdrawn:
        raise ConflictError(NOT_WITHDRAWN.format(name=name, version=version), code="not_withdrawn")
