"""Migrations: replicas starting together migrate once; the schema matches the tables."""

from __future__ import annotations

import asyncio

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
