"""PostgreSQL: LISTEN/NOTIFY wakes one listener per process; late commits are not skipped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from paycheck_server.db import create_engine
from paycheck_server.events import NOTIFY_CHANNEL, FeedHub, append_deactivation
from paycheck_server.migrate import upgrade
from paycheck_server.testing import FakeClock

from .conftest import WAIT_SECONDS, Served, eventually

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only, here."""
    return postgres_url


async def raw_connection(url: str) -> Any:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )


@contextlib.asynccontextmanager
async def open_change(engine: AsyncEngine, digest: str) -> AsyncIterator[AsyncConnection]:
    """A transaction that appended an event for ``digest`` and is left open."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await append(connection, digest)
        try:
            yield connection
        finally:
            if transaction.is_active:
                await transaction.rollback()


async def append(connection: AsyncConnection, digest: str) -> None:
    now = FakeClock().now()
    await append_deactivation(
        connection,
        service="Online marketplace",
        token_digest=digest,
        stops_at=now,
        reason="revoked",
        now=now,
    )


async def test_notify_is_sent_on_commit_only(served: Served, database_url: str) -> None:
    received: list[str] = []
    listener = await raw_connection(database_url)
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: received.append(args[3]))
    engine = served.runtime.store.engine
    try:
        async with open_change(engine, "a" * 64):
            pass  # rolled back
        artifact = await served.api.artifact()
        await served.api.pay(artifact)
        await served.api.reset(artifact)  # commits one event
        # Notifications arrive in commit order: once this marker is in, all before it are.
        await listener.execute(f"NOTIFY {NOTIFY_CHANNEL}, 'marker'")
        await eventually(lambda: "marker" in received)
    finally:
        await listener.close()

    assert received == ["", "marker"]


async def test_one_listening_connection_serves_every_follower(served: Served) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for service in ("Weather", "Online marketplace", "Weather", "Other", "Weather"):
            await stack.enter_async_context(served.follow(service))
        async with served.runtime.store.engine.connect() as connection:
            listening = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
                )
            )

    assert listening == 1


async def test_the_hub_is_woken_by_notify_without_reading_on_a_timer(database_url: str) -> None:
    engine, writer = create_engine(database_url), create_engine(database_url)
    await upgrade(engine)
    # Neither a poll nor a safety read could happen during the test: only NOTIFY wakes it.
    hub = FeedHub(engine, poll_seconds=3600, safety_seconds=3600)
    wakeup = asyncio.Event()
    hub.subscribe(wakeup)
    try:
        await hub.start()
        await eventually(lambda: hub.listening)
        async with writer.begin() as connection:
            await append(connection, "b" * 64)

        async with asyncio.timeout(WAIT_SECONDS):
            await wakeup.wait()
        found = hub.since(0, "Online marketplace")
    finally:
        await hub.aclose()
        await engine.dispose()
        await writer.dispose()

    assert found is not None
    assert [event.token_digest for event in found[0]] == ["b" * 64]


async def test_the_feed_goes_on_when_its_listening_connection_is_killed(
    served: Served, database_url: str
) -> None:
    async with served.follow() as follower:
        admin = await raw_connection(database_url)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
            )
        finally:
            await admin.close()
        artifact = await served.api.artifact()
        await served.api.pay(artifact)
        await served.api.reset(artifact)

        message = await follower.next_of("deactivated")

    assert killed == 1
    assert message.json()["reason"] == "reset"


async def test_an_id_that_commits_after_a_later_one_is_delivered_first(served: Served) -> None:
    engine = served.runtime.store.engine
    async with served.follow() as follower:
        async with open_change(engine, "1" * 64) as early:
            async with engine.begin() as later:
                await append(later, "2" * 64)
            # The hub has read the later id and holds it for the earlier one.
            await eventually(lambda: served.runtime.feed.waiting_for == {1})
            await early.commit()

        first = await follower.next_of("deactivated")
        second = await follower.next_of("deactivated")

    assert (first.id, first.json()["tokenDigest"]) == ("1", "1" * 64)
    assert (second.id, second.json()["tokenDigest"]) == ("2", "2" * 64)


async def test_a_hole_left_by_a_rollback_holds_delivery_only_briefly(served: Served) -> None:
    engine = served.runtime.store.engine
    loop = asyncio.get_running_loop()
    async with served.follow() as follower:
        async with open_change(engine, "1" * 64):
            async with engine.begin() as later:
                await append(later, "2" * 64)
            await eventually(lambda: served.runtime.feed.waiting_for == {1})
            held_at = loop.time()
        # Rolled back: id 1 never comes.

        message = await follower.next_of("deactivated")

    assert message.id == "2"
    assert loop.time() - held_at < 2.0 + 1.0


async def test_an_id_committing_after_the_hold_is_still_delivered(served: Served) -> None:
    engine = served.runtime.store.engine
    async with served.follow() as follower:
        async with open_change(engine, "1" * 64) as early:
            async with engine.begin() as later:
                await append(later, "2" * 64)
            second = await follower.next_of("deactivated")  # after the 2 s hold
            await early.commit()

        first = await follower.next_of("deactivated")

    assert second.id == "2"
    assert (first.id, first.json()["tokenDigest"]) == ("1", "1" * 64)
