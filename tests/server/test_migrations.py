"""Migrations: replicas starting together migrate once; the schema matches the tables."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from paycheck_server import db as tables
from paycheck_server.db import create_engine
from paycheck_server.migrate import current_revision, head_revision, upgrade


async def test_replicas_migrating_at_once_leave_the_schema_at_head(database_url: str) -> None:
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))

        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_migrating_a_migrated_database_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)

        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_the_migrated_schema_is_the_schema_of_the_tables(database_url: str) -> None:
    engine = create_engine(database_url)

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        return compare_metadata(context, tables.metadata)

    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
