"""The engine: what a database connection leaves behind once its event loop has closed."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from paycheck_server.db import create_engine

UNREACHABLE_SQLITE = "sqlite+aiosqlite:////nonexistent/dir/paycheck.db"


async def ping_once(url: str) -> None:
    engine = create_engine(url)
    try:
        with pytest.raises(OperationalError, match="unable to open database file"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
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
