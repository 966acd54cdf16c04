"""Replicas share the feed through the database; old events are purged, the newest kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from paycheck_core import tokens
from paycheck_server import db as tables
from paycheck_server.cli import main as server_cli
from paycheck_server.db import create_engine
from paycheck_server.events import purge_interval
from paycheck_server.migrate import _config, upgrade
from paycheck_server.store import Store
from paycheck_server.testing import FakeClock

from .conftest import Served, eventually

Serve = Callable[..., Awaitable[Served]]


async def event_ids(served: Served) -> list[int]:
    async with served.runtime.store.engine.connect() as connection:
        rows = await connection.scalars(select(tables.token_events.c.id).order_by("id"))
        return list(rows)


async def test_an_event_written_through_one_replica_reaches_the_followers_of_another(
    serve: Serve,
) -> None:
    writer, reader = await serve(), await serve()
    artifact = await writer.api.artifact()
    token = (await writer.api.pay(artifact)).json()["token"]

    async with reader.follow() as follower, writer.follow() as local:
        assert (await writer.api.reset(artifact)).status_code == 200
        remote = await follower.next_of("deactivated")
        here = await local.next_of("deactivated")

    assert remote.json()["tokenDigest"] == tokens.digest(token)
    assert (remote.id, remote.data) == (here.id, here.data)


async def test_a_follower_can_resume_on_another_replica(serve: Serve) -> None:
    first, second = await serve(), await serve()
    async with first.follow() as follower:
        for _ in range(2):
            artifact = await first.api.artifact()
            await first.api.pay(artifact)
            await first.api.reset(artifact)
        seen = [await follower.next_of("deactivated") for _ in range(2)]

    async with second.follow(last_event_id=seen[0].id) as follower:
        await follower.next()
        resumed = await follower.deactivations_until_heartbeat()

    assert [event["id"] for event in resumed] == [int(seen[1].id)]


def test_the_app_purges_at_most_every_ten_minutes() -> None:
    assert purge_interval(86400) == 600
    assert purge_interval(60) == 30
    assert purge_interval(1) == 1


async def test_the_app_purges_events_past_the_retention_and_keeps_the_newest(
    serve: Serve,
) -> None:
    served = await serve(feed_retention_seconds=2)  # purged every second
    for _ in range(3):
        artifact = await served.api.artifact()
        await served.api.pay(artifact)
        await served.api.reset(artifact)
    assert len(await event_ids(served)) == 3

    served.clock.advance(seconds=3)

    async def only_the_newest_left() -> bool:
        return await event_ids(served) == [3]

    await eventually(only_the_newest_left)


async def test_events_within_the_retention_are_kept(serve: Serve) -> None:
    served = await serve(feed_retention_seconds=2)
    artifact = await served.api.artifact()
    await served.api.pay(artifact)
    await served.api.reset(artifact)
    served.clock.advance(seconds=3)
    await served.api.reset(artifact)  # two events now, one old one recent

    async def purged() -> bool:
        return len(await event_ids(served)) < 3

    await eventually(purged)
    assert await event_ids(served) == [2, 3]


async def _events_written_at(database_url: str, moment: datetime, count: int) -> list[str]:
    engine = create_engine(database_url)
    store = Store(engine, clock=FakeClock(moment))
    try:
        await upgrade(engine)
        digests = []
        for index in range(count):
            token = tokens.generate_token()
            digest = tokens.digest(token)
            async with engine.begin() as connection:
                await connection.execute(
                    tables.bills.insert().values(
                        id=f"bill_{index}",
                        artifact_digest=f"{index:064d}",
                        service_name="Weather",
                        date_from=moment.date(),
                        date_to=moment.date(),
                        currency="USD",
                        total_minor=100,
                        status="paid",
                        token_generation=1,
                        created_at=moment,
                        expires_at=moment,
                    )
                )
                await connection.execute(
                    tables.tokens.insert().values(
                        bill_id=f"bill_{index}", digest=digest, created_at=moment
                    )
                )
            assert await store.revoke(digest) == "revoked"
            digests.append(digest)
        return digests
    finally:
        await store.aclose()


async def _count(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(
                await connection.scalar(select(func.count()).select_from(tables.token_events)) or 0
            )
    finally:
        await engine.dispose()


async def test_the_purge_command_deletes_old_events_but_the_newest(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    await _events_written_at(database_url, two_hours_ago, 3)

    code, out, _ = await asyncio.to_thread(
        _run,
        capsys,
        "events",
        "purge",
        "--feed-retention-seconds",
        "3600",
        "--database-url",
        database_url,
    )

    assert code == 0
    assert out == "purged 2 token events older than 3600 s\n"
    assert await _count(database_url) == 1


async def test_the_purge_command_keeps_events_within_the_default_retention(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await _events_written_at(database_url, datetime.now(UTC) - timedelta(hours=2), 2)

    code, out, _ = await asyncio.to_thread(
        _run, capsys, "events", "purge", "--database-url", database_url
    )

    assert (code, out) == (0, "purged 0 token events older than 86400 s\n")
    assert await _count(database_url) == 2


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        server_cli(list(argv))
    code = exit_info.value.code
    out, err = capsys.readouterr()
    return (code if isinstance(code, int) else 1), out, err


@pytest.mark.parametrize("command_line", [["revoke", "--token"], ["events", "purge"]])
async def test_commands_on_an_older_schema_say_to_migrate_first(
    database_url: str, capsys: pytest.CaptureFixture[str], command_line: list[str]
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0001")
    finally:
        await engine.dispose()
    argv = [*command_line, *([tokens.generate_token()] if command_line[-1] == "--token" else [])]

    code, _, err = await asyncio.to_thread(_run, capsys, *argv, "--database-url", database_url)

    assert code == 2
    assert "is at schema 0001" in err
    assert "run 'paycheck-server migrate' first" in err


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
