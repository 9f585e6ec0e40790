"""Settings of the scoring service, read from ``TAROZU_*`` environment variables.

One :class:`Settings` object, returned by the cached :func:`get_settings` and injected with
``Depends``; tests pass their own to :func:`serving.app.create_app`. A placeholder HMAC
secret is refused outside ``environment=development``, so a forgotten secret cannot reach
a deployment.
"""

from __future__ import annotations

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
    key_cache_seconds: float = Field(default=5.0, ge=0.0)
    cors_origins: Annotated[list[str], NoDecode] = []
    docs_enabled: bool = True
    # Where `tarozu audit` publishes the champion's latest fairness report (latest.{json,html}).
    audit_report_dir: str = "var/audit"
    # The screener's result shows the referral tier, the band words, the reasons and the next
    # questions; the probability of each type of exploitation is for specialists, reviewers
    # and data scientists. True shows it to screeners too. The audit log keeps it either way.
    show_probabilities_to_screeners: bool = False
    blas_threads: int = Field(default=1, ge=1)
    gc_freeze: bool = True

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
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


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()


def database_url(explicit: str | None = None) -> str:
    """The audit database URL for commands that need nothing else (keys, audit-log).

    They do not use the HMAC secret, so the secret check is skipped for them.
    """
    return explicit or Settings(environment="development").database_url


def audit_report_dir() -> str:
    """Where the API finds the champion's latest fairness report (for ``tarozu audit``).

    Like :func:`database_url`, it needs no HMAC secret.
    """
    return Settings(environment="development").audit_report_dir
