"""The read of ``POST /token/check`` beside the engine (``paycheck_server.fastread``).

On a SQLite file the check reads through ``sqlite3`` on the event loop; on PostgreSQL through
an AUTOCOMMIT engine without pre-ping. Either way it answers exactly as the engine would, sees
every committed write at once, and falls back to the engine when it cannot read.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from paycheck_core import tokens
from paycheck_server.access import TokenState
from paycheck_server.db import create_engine
from paycheck_server.fastread import SQLiteTokenReader, TokenStateReads, sqlite_file_path
from paycheck_server.store import Store
from paycheck_server.testing import FakeClock

from .conftest import Api

only_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def file_of(database_url: str) -> str:
    path = make_url(database_url).database
    assert path is not None
    return path


async def engine_state(database_url: str, clock: FakeClock, token: str) -> TokenState | None:
    """The token's state read through the engine alone, as before the fast paths."""
    store = Store(create_engine(database_url), clock=clock, fast_reads=False)
    try:
        return await store.token_state(tokens.digest(token))
    finally:
        await store.aclose()


# --- the same answers -----------------------------------------------------------------------


async def test_every_kind_of_token_reads_as_through_the_engine(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    artifact = await api.artifact(methods=["getInfo", "search"])
    replaced = (await api.pay(artifact)).json()["token"]
    revoked = (await api.reset(artifact)).json()["token"]
    current = (await api.reset(artifact)).json()["token"]
    clock.advance(seconds=10)
    revoke = Store(create_engine(database_url), clock=clock)
    assert await revoke.revoke(tokens.digest(revoked)) == "revoked"
    await revoke.aclose()
    reads = api.app.state.paycheck.store.reads

    for token in (current, replaced, revoked, tokens.generate_token()):
        assert await reads.token_state(tokens.digest(token)) == await engine_state(
            database_url, clock, token
        )


@only_sqlite
async def test_a_check_on_a_sqlite_file_is_answered_by_the_sqlite_reader(api: Api) -> None:
    token = await api.token()
    reader = api.app.state.paycheck.store.reads.sqlite_reader

    response = await api.check(token)

    assert response.status_code == 200
    assert (reader.answered, reader.failed) == (1, 0)


@only_sqlite
async def test_the_sqlite_reader_gives_aware_datetimes_and_dates(api: Api) -> None:
    artifact = await api.artifact()
    old = (await api.pay(artifact)).json()["token"]
    await api.reset(artifact)
    reader = api.app.state.paycheck.store.reads.sqlite_reader

    state = reader.token_state(tokens.digest(old))

    assert state is not None
    assert state.deadline == api.clock.now() + timedelta(seconds=300)  # the default grace
    assert state.deadline.tzinfo is UTC
    assert state.period.date_from == api.clock.now().date()


# --- committed writes are seen at once ------------------------------------------------------


async def test_a_revoke_through_another_connection_is_seen_by_the_next_check(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    token = await api.token()
    assert (await api.check(token)).status_code == 200
    other = Store(create_engine(database_url), clock=clock)

    assert await other.revoke(tokens.digest(token)) == "revoked"
    response = await api.check(token)

    await other.aclose()
    assert response.status_code == 401


@only_sqlite
async def test_a_revoke_by_another_process_is_seen_by_the_next_check(
    api: Api, database_url: str
) -> None:
    token = await api.token()
    assert (await api.check(token)).status_code == 200

    revoke = [sys.executable, "-m", "paycheck_server", "revoke", "--token", token]
    command = [*revoke, "--database-url", database_url]
    await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)
    response = await api.check(token)

    assert response.status_code == 401
    assert api.app.state.paycheck.store.reads.sqlite_reader.failed == 0


# --- when the fast path cannot read ---------------------------------------------------------


@only_sqlite
async def test_a_locked_database_is_read_through_the_engine_without_blocking_the_loop(
    api: Api, database_url: str, clock: FakeClock
) -> None:
    token = await api.token()
    expected = await engine_state(database_url, clock, token)
    # A connection in EXCLUSIVE locking mode keeps every other one out, readers too; it can
    # take the lock only while no other connection is open.
    await api.app.state.paycheck.store.aclose()
    locker = sqlite3.connect(file_of(database_url), isolation_level=None)
    locker.execute("PRAGMA locking_mode = EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE bills SET token_generation = token_generation")
    store = Store(create_engine(database_url), clock=clock)
    reader = store.reads.sqlite_reader
    assert reader is not None
    try:
        read = asyncio.create_task(store.token_state(tokens.digest(token)))
        # This loop runs while the read waits: the engine waits in its own thread. (The
        # signal is a counter of the reader, so it is polled; pytest-timeout bounds it.)
        while reader.failed == 0:  # noqa: ASYNC110 - no event to await, see above
            await asyncio.sleep(0.01)
        assert not read.done()
        locker.execute("COMMIT")
        locker.close()

        assert await read == expected
        assert await store.token_state(tokens.digest(token)) == expected
        assert (reader.answered, reader.failed) == (1, 1)
    finally:
        locker.close()
        await store.aclose()


def test_a_sqlite_file_not_in_wal_mode_is_refused_by_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "rollback.db"
    sqlite3.connect(path).close()
    reader = SQLiteTokenReader(path)

    with pytest.raises(sqlite3.OperationalError, match="not WAL"):
        reader.token_state(tokens.digest(tokens.generate_token()))

    assert reader.failed == 1


def test_a_sqlite_file_not_migrated_is_refused_by_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()
    reader = SQLiteTokenReader(path)

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        reader.token_state(tokens.digest(tokens.generate_token()))

    reader.close()


async def test_an_unmigrated_database_fails_as_it_does_through_the_engine(
    database_url: str,
) -> None:
    store = Store(create_engine(database_url), clock=FakeClock())

    with pytest.raises(DBAPIError, match="tokens"):
        await store.token_state(tokens.digest(tokens.generate_token()))

    await store.aclose()


@pytest.mark.postgres
async def test_a_check_survives_postgresql_dropping_its_connections(
    postgres_url: str, clock: FakeClock
) -> None:
    from paycheck_server.migrate import upgrade

    store = Store(create_engine(postgres_url), clock=clock)
    await upgrade(store.engine)
    digest = tokens.digest(tokens.generate_token())
    assert await store.token_state(digest) is None
    assert store.reads.read_engine is not None
    admin = create_engine(postgres_url)
    async with admin.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await admin.dispose()

    try:
        assert await store.token_state(digest) is None
    finally:
        await store.aclose()


# --- which databases get which path ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite+aiosqlite:///paycheck.db", "paycheck.db"),
        ("sqlite+aiosqlite:////var/lib/paycheck/paycheck.db", "/var/lib/paycheck/paycheck.db"),
        ("sqlite+aiosqlite://", None),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/test", None),
    ],
)
def test_only_a_sqlite_file_gets_the_sqlite_reader(url: str, path: str | None) -> None:
    assert sqlite_file_path(make_url(url)) == path


async def test_reads_without_fast_paths_use_the_engine_alone() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    reads = TokenStateReads(engine, fast=False)

    assert (reads.sqlite_reader, reads.read_engine) == (None, None)
    await reads.aclose()
    await engine.dispose()


@pytest.mark.parametrize("value", [-1, 1001, 2.5, True])
def test_the_reader_refuses_a_busy_timeout_outside_0_to_1000_ms(value: object) -> None:
    with pytest.raises(ValueError, match="busy_timeout_ms must be an int from 0 to 1000"):
        SQLiteTokenReader("paycheck.db", busy_timeout_ms=value)  # type: ignore[arg-type]


def test_the_store_refuses_fast_reads_that_are_not_a_bool() -> None:
    engine = create_engine("sqlite+aiosqlite:///paycheck.db")

    with pytest.raises(ValueError, match="fast_reads must be True or False"):
        Store(engine, clock=FakeClock(), fast_reads="yes")  # type: ignore[arg-type]
