"""The engine: SQLite connections under contention, and what a connect leaves behind."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from paycheck_server.db import create_engine

UNREACHABLE_SQLITE = "sqlite+aiosqlite:////nonexistent/dir/paycheck.db"


async def journal_mode(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        mode: str = await connection.scalar(text("PRAGMA journal_mode"))
    return mode


async def ping_once(url: str) -> None:
    engine = create_engine(url)
    try:
        with pytest.raises(OperationalError, match="unable to open database file"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_a_new_file_switches_to_wal_once_another_writer_commits(tmp_path: Path) -> None:
    # Replicas migrating a new file together: while one writes, SQLite refuses another's
    # switch to WAL at once, without waiting out busy_timeout.
    path = tmp_path / "paycheck.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE earlier (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO earlier VALUES (1)")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        opening = asyncio.create_task(journal_mode(engine))
        await asyncio.sleep(0.5)  # the connect meets the lock; it must wait, however long
        writer.execute("COMMIT")

        assert await opening == "wal"
    finally:
        writer.close()
        await engine.dispose()


def test_a_failed_sqlite_connect_leaves_no_thread_calling_into_the_closed_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `paycheck-server migrate` and every test run their loop with asyncio.run and close it
    # right after the error: a driver thread still running then dies with "Event loop is
    # closed" (a stray traceback after the CLI's one-line error, a random test error).
    crashes: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(repr(args.exc_value)))
    before = set(threading.enumerate())

    asyncio.run(ping_once(UNREACHABLE_SQLITE))
    for thread in set(threading.enumerate()) - before:
        thread.join()

    assert crashes == []
