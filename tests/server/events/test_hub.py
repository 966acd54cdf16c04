"""The hub and a subscription without HTTP: memory limits, bad options, a dead database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from paycheck_server.db import create_engine
from paycheck_server.events import FeedHub, append_deactivation
from paycheck_server.events.stream import Subscription
from paycheck_server.migrate import upgrade
from paycheck_server.testing import FakeClock

from .conftest import eventually


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def append(engine: AsyncEngine, count: int, service: str = "Weather") -> None:
    now = FakeClock().now()
    for index in range(count):
        async with engine.begin() as connection:
            await append_deactivation(
                connection,
                service=service,
                token_digest=f"{index:064x}",
                stops_at=now,
                reason="revoked",
                now=now,
            )


@contextlib.asynccontextmanager
async def running(hub: FeedHub) -> AsyncIterator[FeedHub]:
    try:
        await hub.start()
        yield hub
    finally:
        await hub.aclose()


async def test_a_subscriber_behind_the_hubs_memory_reads_the_database(
    engine: AsyncEngine,
) -> None:
    async with running(FeedHub(engine, poll_seconds=0.05, memory=1)) as hub:
        subscription = Subscription(hub, service="Weather", heartbeat_seconds=30, clock=FakeClock())
        await subscription.open(None)
        messages = subscription.messages()
        assert (await anext(messages)).event == "heartbeat"
        await append(engine, 3)
        await append(engine, 1, service="Online marketplace")
        await eventually(lambda: hub.position() == (4, 4))

        replayed = [await anext(messages) for _ in range(3)]
        await messages.aclose()

    assert [message.id for message in replayed] == ["1", "2", "3"]


async def test_the_hub_is_not_live_while_it_cannot_read(engine: AsyncEngine) -> None:
    async with running(FeedHub(engine, poll_seconds=0.05)) as hub:
        assert hub.live
        await rename(engine, "token_events", "token_events_away")
        await eventually(lambda: not hub.live)

        await rename(engine, "token_events_away", "token_events")
        await eventually(lambda: hub.live)
        await append(engine, 1)
        await eventually(lambda: hub.position() == (1, 1))

    assert not hub.live


async def rename(engine: AsyncEngine, table: str, to: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE {table} RENAME TO {to}"))


@pytest.mark.parametrize(
    "options",
    [{"poll_seconds": 0}, {"poll_seconds": 1, "gap_seconds": -1}, {"poll_seconds": 1, "memory": 0}],
)
def test_bad_options_are_refused(options: dict[str, float]) -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")

    with pytest.raises(ValueError, match="must be"):
        FeedHub(engine, **options)


async def test_an_event_id_is_never_handed_out_twice(engine: AsyncEngine) -> None:
    await append(engine, 2)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM token_events"))

    await append(engine, 1)

    async with engine.connect() as connection:
        assert list(await connection.scalars(text("SELECT id FROM token_events"))) == [3]
