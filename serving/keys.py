"""API keys: long random tokens shown once, stored only as their SHA-256, each with one role.

A key looks like ``tarozu_<key id>_<secret>``. The key id is public (it is what the audit
log records, and what ``tarozu keys revoke`` takes); the secret is 256 random bits, so a
plain SHA-256 of the whole key is a safe verifier and a stolen database yields no key.
Presented keys are checked by key id, then by comparing hashes in constant time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from serving.auditlog.database import api_keys, make_engine, run_migrations
from serving.auditlog.writer import now
from serving.errors import ForbiddenError, NotFoundError, UnauthorizedError
from serving.schemas import ROLES
from serving.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "tarozu"
DEV_KEYS_FILE = Path("var/dev-keys.json")
MISSING_KEY = "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
INVALID_KEY = "the API key is not valid (unknown, revoked or mistyped); ask an admin for a key"
WRONG_ROLE = "a key with the role {role!r} may not do this; this needs one of {allowed}"
UNKNOWN_ROLE = "unknown role {role!r}; roles are {roles}"
NO_KEY_ID = "no API key with id {key_id!r}"
DEV_ONLY = "development keys are made only with TAROZU_ENVIRONMENT=development (it is {environment!r})"
MISS_REFRESH_SECONDS = 1.0


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, key)``."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def _info(row: Any) -> dict[str, Any]:
    return {
        "key_id": row.key_id,
        "role": row.role,
        "label": row.label,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
    }


def create_key(engine: Engine, *, role: str, label: str | None = None, dev: bool = False) -> dict[str, Any]:
    """Store a new key's hash; returns its info with the key itself (shown once)."""
    if role not in ROLES:
        raise ValueError(UNKNOWN_ROLE.format(role=role, roles=list(ROLES)))
    key_id, key = new_key()
    row = {
        "key_id": key_id,
        "key_hash": hash_key(key),
        "role": role,
        "label": label,
        "created_at": now(),
        "revoked_at": None,
        "dev": dev,
    }
    with engine.begin() as conn:
        conn.execute(insert(api_keys), row)
    return {**{k: row[k] for k in ("key_id", "role", "label", "created_at", "revoked_at")}, "key": key}


def list_keys(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)).all()
    return [_info(r) for r in rows]


def revoke_key(engine: Engine, key_id: str) -> dict[str, Any]:
    """Revoke a key (idempotent); raises NotFoundError for an unknown id."""
    with engine.begin() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one_or_none()
        if row is None:
            raise NotFoundError(NO_KEY_ID.format(key_id=key_id), field="key_id", value=key_id)
        if row.revoked_at is None:
            conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=now()))
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one()
    return _info(row)


# ---------------------------------------------------------------------------- authentication
@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's public id and its role."""

    key_id: str
    role: str


@dataclass(frozen=True)
class _Active:
    key_hash: bytes
    role: str


class KeyStore:
    """The active keys, cached in memory and refreshed from the database.

    A background task refreshes every ``ttl`` seconds, so a key revoked by ``tarozu keys``
    in another process stops working within ``ttl``; an unknown key id triggers a refresh at
    most once a second, so a key created elsewhere works at once.
    """

    def __init__(self, engine: Engine, *, ttl: float) -> None:
        self.engine = engine
        self.ttl = ttl
        self._active: dict[str, _Active] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def load(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(api_keys.c.key_id, api_keys.c.key_hash, api_keys.c.role).where(api_keys.c.revoked_at.is_(None))
            ).all()
        self._active = {r.key_id: _Active(bytes.fromhex(r.key_hash), r.role) for r in rows}
        self._loaded_at = time.monotonic()

    async def refresh(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self.load)

    async def run_refresher(self) -> None:
        while True:
            await asyncio.sleep(self.ttl or 1.0)
            try:
                await self.refresh()
            except Exception as exc:  # the database may be down for a while; keep the old cache
                logger.warning("could not refresh API keys: %s", type(exc).__name__)

    async def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise UnauthorizedError(MISSING_KEY, code="missing_api_key")
        key_id = key_id_of(key)
        if key_id is None:
            raise UnauthorizedError(INVALID_KEY, code="invalid_api_key")
        active = self._active.get(key_id)
        if active is None and time.monotonic() - self._loaded_at > MISS_REFRESH_SECONDS:
            await self.refresh()
            active = self._active.get(key_id)
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        if active is None or not hmac.compare_digest(digest, active.key_hash):
            raise UnauthorizedError(INVALID_KEY, code="invalid_api_key")
        return Principal(key_id=key_id, role=active.role)


def authorise(principal: Principal, roles: tuple[str, ...], *, why: str | None = None) -> Principal:
    """The principal if its role is one of ``roles``; otherwise a 403 that says why, if given."""
    if principal.role not in roles:
        message = WRONG_ROLE.format(role=principal.role, allowed=list(roles))
        raise ForbiddenError(f"{message}: {why}" if why else message, allowed=list(roles))
    return principal


# ---------------------------------------------------------------------------- development keys
def ensure_dev_keys(settings: Settings, *, path: Path = DEV_KEYS_FILE) -> dict[str, str]:
    """One working key per role for local development, kept in ``var/dev-keys.json`` (0600).

    Keys in the file that are still active in the database are reused, so the web page and
    scripts keep working across ``make run``; missing or revoked ones are replaced, and
    other development keys are revoked. Refused outside ``environment=development``.
    """
    if settings.environment != "development":
        raise PermissionError(DEV_ONLY.format(environment=settings.environment))
    stored: dict[str, str] = {}
    if path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            stored = (
                {r: k for r, k in raw.items() if r in ROLES and isinstance(k, str)} if isinstance(raw, dict) else {}
            )
        except (json.JSONDecodeError, UnicodeDecodeError):
            stored = {}
    engine = make_engine(settings.database_url)
    try:
        run_migrations(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(api_keys.c.key_id, api_keys.c.key_hash, api_keys.c.role).where(
                    api_keys.c.revoked_at.is_(None), api_keys.c.dev.is_(True)
                )
            ).all()
        valid = {r.key_hash: r for r in rows}
        keys: dict[str, str] = {}
        for role in ROLES:
            key = stored.get(role)
            row = valid.get(hash_key(key)) if key else None
            keys[role] = (
                key
                if key and row is not None and row.role == role
                else create_key(engine, role=role, label="development", dev=True)["key"]
            )
        keep = {key_id_of(k) for k in keys.values()}
        for r in rows:
            if r.key_id not in keep:
                revoke_key(engine, r.key_id)
    finally:
        engine.dispose()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(keys, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return keys
