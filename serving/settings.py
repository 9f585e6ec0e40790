"""Settings of the scoring service, read from ``TAROZU_*`` environment variables.

One :class:`Settings` object, returned by the cached :func:`get_settings` and injected with
``Depends``; tests pass their own to :func:`serving.app.create_app`. A placeholder HMAC
secret is refused outside ``environment=development``, so a forgotten secret cannot reach
a deployment.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRET = "changethis"  # noqa: S105  # the placeholder, refused outside development
MIN_SECRET_CHARS = 32
PLACEHOLDER_REFUSED = (
    "TAROZU_HMAC_SECRET is a placeholder or shorter than {min} characters, which is allowed only "
    "with TAROZU_ENVIRONMENT=development (environment is {environment!r}). Set a long random "
    "secret, for example the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`, "
    "and keep it: case references are stored only as HMACs made with it."
)


class Settings(BaseSettings):
    """Configuration of ``tarozu serve``, ``tarozu keys`` and ``tarozu audit-log``."""

    model_config = SettingsConfigDict(env_prefix="TAROZU_", extra="ignore", frozen=True)

    environment: Literal["development", "staging", "production"] = "production"
    hmac_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    database_url: str = Field(
        default="sqlite:///var/tarozu-audit.db",
        validation_alias=AliasChoices("TAROZU_DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    model_name: str = "tarozu-screening"
    model_alias: str = "champion"
    tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TAROZU_TRACKING_URI", "MLFLOW_TRACKING_URI", "tracking_uri"),
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    access_log: bool = False
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_batch_body_bytes: int = Field(default=32 << 20, ge=1024)
    max_batch_cases: int = Field(default=10_000, ge=1)
    # Hostile input, refused before a body is parsed: how deep objects and lists may nest, and
    # how many members one object or list may have (a batch's list of cases: max_batch_cases).
    max_json_depth: int = Field(default=16, ge=4, le=256)
    max_json_width: int = Field(default=1000, ge=100)
    key_cache_seconds: float = Field(default=5.0, ge=0.0)
    # Failed API keys: after this many failures in the window, from one client address or for
    # one key id, further attempts get 429 with Retry-After until the window has room again.
    # Counted in each API process's memory (see docs/threat-model.md); 0 turns a limit off.
    auth_failure_window_seconds: float = Field(default=300.0, gt=0.0)
    auth_failures_per_client: int = Field(default=30, ge=0)
    auth_failures_per_key_id: int = Field(default=10, ge=0)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated);
    # empty: the client is the peer of the connection, and X-Forwarded-For is ignored.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    cors_origins: Annotated[list[str], NoDecode] = []
    # Swagger UI at /docs (served from local files, no CDN). None: on in development only.
    docs_enabled: bool | None = None
    # The screener's result shows the referral tier, the band words, the reasons and the next
    # questions; the probability of each type of exploitation is for specialists, reviewers
    # and data scientists. True shows it to screeners too. The audit log keeps it either way.
    show_probabilities_to_screeners: bool = False
    blas_threads: int = Field(default=1, ge=1)
    gc_freeze: bool = True
    # FastAPI's own OpenTelemetry of each request (a span with the method, the path with its screening
    # id, the query and the time; request metrics; unhandled exceptions as logs), sent wherever the
    # process's OpenTelemetry providers send. Off unless set here, whatever FASTAPI_OTEL_AUTO_CONFIGURE
    # or a provider installed by an agent (opentelemetry-instrument) says: what leaves a server that
    # screens people at risk is its operator's choice for this service, made where its other settings are.
    telemetry: bool = False

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            ipaddress.ip_network(proxy, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        secret = self.hmac_secret.get_secret_value()
        weak = secret == PLACEHOLDER_SECRET or len(secret) < MIN_SECRET_CHARS
        if weak and self.environment != "development":
            raise ValueError(PLACEHOLDER_REFUSED.format(min=MIN_SECRET_CHARS, environment=self.environment))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def docs_on(self) -> bool:
        """Whether ``/docs`` is served: as set, or by default in development only."""
        return self.environment == "development" if self.docs_enabled is None else self.docs_enabled


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()


def database_url(explicit: str | None = None) -> str:
    """The audit database URL for commands that need nothing else (keys, audit-log).

    They do not use the HMAC secret, so the secret check is skipped for them.
    """
    return explicit or Settings(environment="development").database_url


def key_cache_seconds() -> float:
    """How long a running API server may still accept a key revoked by another process."""
    return Settings(environment="development").key_cache_seconds
