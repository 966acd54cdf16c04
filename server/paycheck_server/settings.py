"""The server's settings: ``PAYCHECK_*`` environment variables, overridden by CLI flags.

Every field below is read from the variable ``PAYCHECK_<FIELD NAME IN CAPITALS>``, for example
``PAYCHECK_DATABASE_URL`` or ``PAYCHECK_RESET_GRACE_SECONDS``.

Example::

    settings = Settings(database_url="postgresql+asyncpg://paycheck@db/paycheck")
    app = create_app(settings)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "normalize_database_url"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./paycheck.db"
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalize_database_url(url: str) -> str:
    """Return ``url`` with the async driver Paycheck uses (``sqlite:`` → ``sqlite+aiosqlite:``).

    Raises:
        ValueError: the URL is not a SQLite or PostgreSQL URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"{url!r} is not a database URL") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database {parsed.drivername!r}; use sqlite+aiosqlite:///FILE "
            "or postgresql+asyncpg://USER@HOST/DB"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


class Settings(BaseSettings):
    """How the server runs; every field has a ``PAYCHECK_*`` environment variable.

    Raises:
        pydantic.ValidationError: a value is out of range (the message names the field).
    """

    model_config = SettingsConfigDict(env_prefix="PAYCHECK_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = Field(8000, ge=1, le=65535)
    """TCP port to listen on."""
    workers: int = Field(1, ge=1, le=64)
    """Server processes; use PostgreSQL when more than one."""
    database_url: str = DEFAULT_DATABASE_URL
    """``sqlite+aiosqlite:///FILE`` or ``postgresql+asyncpg://USER@HOST/DB``."""
    catalog: Path | None = None
    """A TOML or JSON catalog file; the demo catalog when neither this nor the registry is set."""
    registry_url: str | None = None
    """The seed's service registry; its ``/allServices`` is read and refreshed."""
    registry_refresh_seconds: float = Field(60.0, gt=0)
    """How often the registry is read again."""
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    """The ISO 4217 currency of every price."""
    reset_grace_seconds: int = Field(300, ge=0)
    """How long the previous token keeps working after ``/token/reset``."""
    bill_ttl_seconds: int = Field(86400, ge=1)
    """How long an unpaid bill can be paid."""
    max_period_days: int = Field(366, ge=1)
    """The longest period a bill may cover."""
    max_body_bytes: int = Field(65536, ge=1024)
    """Requests with a larger body get 413."""
    max_header_bytes: int = Field(16384, ge=1024, le=1048576)
    """The URL and the header names and values of a request, together, in bytes: a longer
    URL gets 414, larger header fields get 431."""
    max_headers: int = Field(100, ge=1, le=10000)
    """Requests with more header fields get 431."""
    idempotency_ttl_seconds: int = Field(86400, ge=86400)
    """How long an ``Idempotency-Key`` is remembered (at least 24 hours)."""
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    """Uvicorn's and the server's log level."""
    feed_enabled: bool = True
    """Serve the token-event feed ``GET /token/events`` (events are recorded either way)."""
    feed_heartbeat_seconds: float = Field(2.0, gt=0, le=60)
    """How often the feed sends a heartbeat; followers call it down after three missed."""
    feed_retention_seconds: int = Field(86400, ge=1)
    """How long token events are kept for followers that resume (``Last-Event-ID``)."""
    feed_poll_seconds: float = Field(0.1, gt=0, le=1)
    """How often each process reads new token events on SQLite (PostgreSQL is notified)."""

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("registry_url")
    @classmethod
    def _registry_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, not {value!r}")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _one_catalog_source(self) -> Settings:
        if self.catalog is not None and self.registry_url is not None:
            raise ValueError("give either a catalog file or a registry URL, not both")
        return self
