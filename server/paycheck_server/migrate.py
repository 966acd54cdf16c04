"""Apply the Alembic migrations, safely when several replicas start at once.

The upgrade runs in one transaction that first takes a database-wide lock: a PostgreSQL
advisory transaction lock, or SQLite's ``BEGIN EXCLUSIVE``. A second replica waits for the
first to commit, then finds the schema at head and does nothing.

Example::

    engine = create_engine("sqlite+aiosqlite:///paycheck.db")
    await upgrade(engine)
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["MIGRATION_LOCK_ID", "current_revision", "head_revision", "upgrade"]

MIGRATION_LOCK_ID = 0x7061_7963_6865_636B & 0x7FFF_FFFF_FFFF_FFFF
"""The PostgreSQL advisory lock key held while migrating ("paycheck" in ASCII)."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "paycheck_server:migrations")
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of the server."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found in paycheck_server.migrations")
    return head


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database of ``engine`` to the newest schema (a no-op when it is already there).

    Raises:
        sqlalchemy.exc.DBAPIError, OSError: the database cannot be reached.
    """
    async with engine.connect() as connection:
        connection = await connection.execution_options(sqlite_begin="EXCLUSIVE")
        async with connection.begin():
            await connection.run_sync(_upgrade)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
